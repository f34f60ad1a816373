"""MonitoringWorkspaces: where the stack's metrics and logs are kept, made before the cluster (which names the log
workspace in its Container Insights add-on).

- An Azure Monitor workspace (Microsoft.Monitor/accounts) for managed Prometheus (kaito-aks:metrics).
- A Log Analytics workspace (PerGB2018) with the retention and daily cap of the settings (kaito-aks:containerLogs).
  Microsoft warns the cap has not always been applied exactly since late 2024 (MicrosoftDocs/azure-monitor-docs:
  articles/azure-monitor/logs/daily-cap.md); the cost estimate counts the cap as used every day.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import monitor, operationalinsights


@dataclass(frozen=True)
class MonitoringWorkspacesArgs:
    resource_group_name: pulumi.Input[str]
    location: str
    name_suffix: str
    """Part of both workspaces' names (the cluster's name)."""
    metrics: bool
    logs: bool
    log_retention_days: int = 30
    log_daily_cap_gb: int = 1
    tags: Mapping[str, str] = field(default_factory=dict)


class MonitoringWorkspaces(pulumi.ComponentResource):
    metrics_workspace_id: pulumi.Output[str] | None
    """ARM ID of the Azure Monitor workspace; None without metrics."""
    log_workspace_id: pulumi.Output[str] | None
    """ARM ID of the Log Analytics workspace; None without container logs."""

    def __init__(self, name: str, args: MonitoringWorkspacesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kaito-aks:monitoring_workspaces:MonitoringWorkspaces", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.metrics_workspace_id = self.log_workspace_id = None
        if args.metrics:
            metrics = monitor.AzureMonitorWorkspace(
                f"{name}-metrics",
                azure_monitor_workspace_name=f"amw-{args.name_suffix}",
                resource_group_name=args.resource_group_name,
                location=args.location,
                tags=dict(args.tags),
                opts=child,
            )
            self.metrics_workspace_id = metrics.id
        if args.logs:
            logs = operationalinsights.Workspace(
                f"{name}-logs",
                workspace_name=f"log-{args.name_suffix}",
                resource_group_name=args.resource_group_name,
                location=args.location,
                sku=operationalinsights.WorkspaceSkuArgs(name="PerGB2018"),
                retention_in_days=args.log_retention_days,
                workspace_capping=operationalinsights.WorkspaceCappingArgs(daily_quota_gb=args.log_daily_cap_gb),
                tags=dict(args.tags),
                opts=child,
            )
            self.log_workspace_id = logs.id
        self.register_outputs({"metricsWorkspaceId": self.metrics_workspace_id,
                               "logWorkspaceId": self.log_workspace_id})
