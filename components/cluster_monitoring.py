"""ClusterMonitoring: what reads the model's metrics and logs, and what watches them (after the cluster exists).

- Managed Prometheus collection the way `az aks update --enable-azure-monitor-metrics` sets it up, as resources:
  a data collection endpoint and rule sending Microsoft-PrometheusMetrics to the Azure Monitor workspace, and the
  rule's association with the cluster (Azure/prometheus-collector@v7.1.1-main-07-21-2026-39583fd5:AddonBicepTemplate;
  the endpoint's name is at most 44 characters).
- What to scrape: a PodMonitor (azmonitoring.coreos.com/v1, the CRD the ama-metrics add-on installs and reads) for
  the model's pods, selected by the one label KAITO puts on them (kaito.sh/workspace, kaito-project/kaito@v0.6.0
  and @v0.12.0:pkg/workspace/manifests/manifests.go), on port 5000 where vLLM and kaito-aks's llama.cpp serve
  /metrics next to the API (kaito-project/kaito@v0.12.0:pkg/utils/consts/consts.go PortInferenceServer); with the
  front door, one for its proxies' AI Gateway sidecar (port 1064, envoyproxy/ai-gateway@v1.1.0:internal/
  controller/extproc_builder.go), which counts tokens per team.
- Container Insights' data collection rule and association (microsoft/Docker-Provider@3.1.24:scripts/onboarding/
  aks/onboarding-msi-bicep/existingClusterOnboarding.bicep, the group stream of all its tables).
- Alert rules (Azure Monitor Prometheus rule groups) for the engine the stack runs, mailed through an action group
  to the contacts given.
- Azure Managed Grafana (Standard; Essential can no longer be created), reading the workspace with Monitoring Data
  Reader, with kaito-aks's dashboard (components/dashboards/model-serving.json) put into it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pulumi_azure_native import alertsmanagement, dashboard, monitor

from components.gpu_metrics import EXPORTER_PORT
from components.grafana_dashboard import GrafanaDashboard
from components.identity import assign_role
from components.serving_metrics import Engine

DASHBOARD = Path(__file__).parent / "dashboards" / "model-serving.json"
MODEL_JOB = "kaito-model"
# The label each model's PodMonitor puts on its series: which Workspace (model) they come from.
WORKSPACE_METRIC_LABEL = "kaito_workspace"
MODEL_METRICS_PORT = 5000
AI_GATEWAY_METRICS_PORT = 1064
GPU_JOB = "gpu"
GPU_METRICS_PORT = EXPORTER_PORT
# The ama-metrics replica set that scrapes PodMonitor targets (Azure/prometheus-collector@v7.1.1-main-07-21-2026-
# 39583fd5:otelcollector/deploy/addon-chart/azure-monitor-metrics-addon/templates/ama-metrics-deployment.yaml).
SCRAPER = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
           "podSelector": {"matchLabels": {"rsName": "ama-metrics"}}}


@dataclass(frozen=True)
class AlertSettings:
    ttft_p95_seconds: int
    emails: Sequence[str] = ()


@dataclass(frozen=True)
class MonitoredModel:
    """One model of the stack, as its metrics are scraped and its alerts written."""

    workspace_name: str
    pods: Mapping[str, str]
    """Labels of its pods."""
    engine: Engine
    """What serves it, and so which metrics it has."""


@dataclass(frozen=True)
class ClusterMonitoringArgs:
    resource_group_name: pulumi.Input[str]
    location: str
    cluster_name: str
    cluster_id: pulumi.Input[str]
    namespace: pulumi.Input[str]
    models: Sequence[MonitoredModel]
    """The stack's models, its own first: each gets its PodMonitor and its alert rule group."""
    metrics_workspace_id: pulumi.Input[str] | None = None
    log_workspace_id: pulumi.Input[str] | None = None
    alerts: AlertSettings | None = None
    gpu_exporter: tuple[pulumi.Input[str], Mapping[str, str]] | None = None
    """(namespace, pod labels) of the DCGM exporter on the model's GPU nodes; None for a CPU model."""
    front_door_proxies: Mapping[str, str] | None = None
    """Labels of the front door's proxy pods, in `front_door_namespace`; None without a front door."""
    front_door_namespace: str = "envoy-gateway-system"
    grafana: bool = False
    grafana_admins: Sequence[tuple[pulumi.Input[str], str | None]] = ()
    """(principal ID, principal type) given Grafana Admin: the deployer and the cluster's admin groups."""
    grafana_viewers: Sequence[pulumi.Input[str]] = ()
    """Groups given Grafana Viewer (the cluster's reader groups)."""
    hourly_cost_usd: float = 0.0
    """The stack's estimated $/h, shown on the dashboard beside the measured tokens per second."""
    model_ready: Sequence[pulumi.Resource] = ()
    """What must exist before the model is scraped and watched (the Workspace): an alert rule made earlier would
    report the model not serving for as long as its GPU node takes to come up."""
    model_running: bool = True
    """False while the stack is paused (no Workspace): the model's alerts are switched off, not deleted, so that
    'not serving' does not page anyone for a model that is meant to be down."""
    labels: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)


class ClusterMonitoring(pulumi.ComponentResource):
    """The Kubernetes provider comes through `opts`. Collection (the data collection rules) starts with the cluster,
    so a Workspace that never gets ready leaves its events and logs to read; scraping the model and alerting on it
    wait for `model_ready`."""

    grafana_url: pulumi.Output[str] | None
    dashboard_url: pulumi.Output[str] | None

    def __init__(self, name: str, args: ClusterMonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kaito-aks:cluster_monitoring:ClusterMonitoring", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        after_model = pulumi.ResourceOptions(parent=self, depends_on=list(args.model_ready))
        tags = dict(args.tags)
        self.grafana_url = self.dashboard_url = None
        if args.metrics_workspace_id is not None:
            prometheus_name = f"MSProm-{args.location}-{args.cluster_name}"
            endpoint = monitor.DataCollectionEndpoint(
                f"{name}-prometheus-endpoint",
                data_collection_endpoint_name=prometheus_name[:44].rstrip("-_"),
                resource_group_name=args.resource_group_name, location=args.location, kind="Linux", tags=tags,
                opts=child,
            )
            rule = monitor.DataCollectionRule(
                f"{name}-prometheus-rule",
                data_collection_rule_name=prometheus_name[:64].rstrip("-_"),
                resource_group_name=args.resource_group_name, location=args.location, kind="Linux",
                data_collection_endpoint_id=endpoint.id,
                data_sources=monitor.DataCollectionRuleDataSourcesArgs(prometheus_forwarder=[
                    monitor.PrometheusForwarderDataSourceArgs(name="PrometheusDataSource",
                                                              streams=["Microsoft-PrometheusMetrics"])]),
                destinations=monitor.DataCollectionRuleDestinationsArgs(monitoring_accounts=[
                    monitor.MonitoringAccountDestinationArgs(name="MonitoringAccount1",
                                                             account_resource_id=args.metrics_workspace_id)]),
                data_flows=[monitor.DataFlowArgs(streams=["Microsoft-PrometheusMetrics"],
                                                 destinations=["MonitoringAccount1"])],
                tags=tags, opts=child,
            )
            monitor.DataCollectionRuleAssociation(
                f"{name}-prometheus-association",
                association_name=prometheus_name[:64].rstrip("-_"),
                resource_uri=args.cluster_id, data_collection_rule_id=rule.id, opts=child,
            )
            for index, model in enumerate(args.models):
                # The stack's own model keeps the names it had before there could be several.
                suffix = "" if index == 0 else f"-{model.workspace_name}"
                k8s.apiextensions.CustomResource(
                    f"{name}-model-pod-monitor{suffix}",
                    api_version="azmonitoring.coreos.com/v1", kind="PodMonitor",
                    metadata={"name": f"{MODEL_JOB}{suffix}", "namespace": args.namespace,
                              "labels": dict(args.labels)},
                    spec=pod_monitor_spec(model.pods, MODEL_METRICS_PORT, MODEL_JOB,
                                          {WORKSPACE_METRIC_LABEL: model.workspace_name}),
                    opts=after_model,
                )
            if args.front_door_proxies is not None:
                k8s.apiextensions.CustomResource(
                    f"{name}-front-door-pod-monitor",
                    api_version="azmonitoring.coreos.com/v1", kind="PodMonitor",
                    metadata={"name": "front-door-token-usage", "namespace": args.front_door_namespace,
                              "labels": dict(args.labels)},
                    spec=pod_monitor_spec(args.front_door_proxies, AI_GATEWAY_METRICS_PORT, "front-door"),
                    opts=after_model,
                )
            if args.gpu_exporter is not None:
                gpu_namespace, gpu_pods = args.gpu_exporter
                k8s.apiextensions.CustomResource(
                    f"{name}-gpu-pod-monitor",
                    api_version="azmonitoring.coreos.com/v1", kind="PodMonitor",
                    metadata={"name": GPU_JOB, "namespace": gpu_namespace, "labels": dict(args.labels)},
                    spec=pod_monitor_spec(gpu_pods, GPU_METRICS_PORT, GPU_JOB),
                    opts=after_model,
                )
            if args.alerts is not None:
                actions = []
                if args.alerts.emails:
                    group = monitor.ActionGroup(
                        f"{name}-alert-mail",
                        action_group_name=f"ag-{args.cluster_name}"[:260],
                        group_short_name="kaito-aks", location="Global", enabled=True,
                        resource_group_name=args.resource_group_name,
                        email_receivers=[
                            monitor.MicrosoftCommonEmailReceiverArgs(name=f"contact-{index}", email_address=address,
                                                                     use_common_alert_schema=True)
                            for index, address in enumerate(args.alerts.emails)],
                        tags=tags, opts=child,
                    )
                    actions = [alertsmanagement.PrometheusRuleGroupActionArgs(action_group_id=group.id)]
                # A group per model: each model's rules (at most 20 to a group) read its own series.
                for index, model in enumerate(args.models):
                    suffix = "" if index == 0 else f"-{model.workspace_name}"
                    alertsmanagement.PrometheusRuleGroup(
                        f"{name}-model-alerts{suffix}",
                        rule_group_name=f"kaito-aks-model-{args.cluster_name}{suffix}"[:260],
                        resource_group_name=args.resource_group_name, location=args.location,
                        scopes=[args.metrics_workspace_id, args.cluster_id], cluster_name=args.cluster_name,
                        interval="PT1M", enabled=args.model_running,
                        description=f"kaito-aks: is {model.workspace_name} serving, and serving well (README, "
                                    f"Monitoring)",
                        rules=[alertsmanagement.PrometheusRuleArgs(**rule_args, actions=actions)
                               for rule_args in alert_rules(model.engine, args.namespace,
                                                            args.alerts.ttft_p95_seconds,
                                                            gpu=index == 0 and args.gpu_exporter is not None,
                                                            workspace=model.workspace_name)],
                        tags=tags, opts=after_model,
                    )
            if args.grafana:
                self.grafana_url, self.dashboard_url = self._grafana(name, args, child)

        if args.log_workspace_id is not None:
            logs_name = f"MSCI-{args.location}-{args.cluster_name}"[:64].rstrip("-_")
            rule = monitor.DataCollectionRule(
                f"{name}-container-insights-rule",
                data_collection_rule_name=logs_name,
                resource_group_name=args.resource_group_name, location=args.location, kind="Linux",
                data_sources=monitor.DataCollectionRuleDataSourcesArgs(extensions=[monitor.ExtensionDataSourceArgs(
                    name="ContainerInsightsExtension", extension_name="ContainerInsights",
                    streams=["Microsoft-ContainerInsights-Group-Default"],
                    extension_settings={"dataCollectionSettings": {"interval": "1m", "namespaceFilteringMode": "Off",
                                                                   "enableContainerLogV2": True}},
                )]),
                destinations=monitor.DataCollectionRuleDestinationsArgs(log_analytics=[
                    monitor.LogAnalyticsDestinationArgs(name="ciworkspace",
                                                        workspace_resource_id=args.log_workspace_id)]),
                data_flows=[monitor.DataFlowArgs(streams=["Microsoft-ContainerInsights-Group-Default"],
                                                 destinations=["ciworkspace"])],
                tags=tags, opts=child,
            )
            monitor.DataCollectionRuleAssociation(
                f"{name}-container-insights-association",
                association_name="ContainerInsightsExtension",
                resource_uri=args.cluster_id, data_collection_rule_id=rule.id, opts=child,
            )
        self.register_outputs({"grafanaUrl": self.grafana_url, "dashboardUrl": self.dashboard_url})

    def _grafana(self, name: str, args: ClusterMonitoringArgs,
                 child: pulumi.ResourceOptions) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
        grafana = dashboard.Grafana(
            f"{name}-grafana",
            workspace_name=f"grafana-{args.cluster_name}"[:23].rstrip("-"),
            resource_group_name=args.resource_group_name, location=args.location,
            sku=dashboard.ResourceSkuArgs(name="Standard"),
            identity=dashboard.ManagedServiceIdentityArgs(type="SystemAssigned"),
            properties=dashboard.ManagedGrafanaPropertiesArgs(
                grafana_major_version="12", public_network_access="Enabled", zone_redundancy="Disabled",
                api_key="Disabled",
                grafana_integrations=dashboard.GrafanaIntegrationsArgs(azure_monitor_workspace_integrations=[
                    dashboard.AzureMonitorWorkspaceIntegrationArgs(
                        azure_monitor_workspace_resource_id=args.metrics_workspace_id)]),
            ),
            tags=dict(args.tags), opts=child,
        )
        reader = assign_role(
            f"{name}-grafana-metrics-reader",
            principal_id=grafana.identity.apply(lambda identity: identity.principal_id if identity else ""),
            principal_type="ServicePrincipal", role="Monitoring Data Reader", scope=args.metrics_workspace_id,
            opts=child,
        )
        admins = [
            assign_role(f"{name}-grafana-admin-{index}", principal_id=principal, principal_type=kind,
                        role="Grafana Admin", scope=grafana.id, opts=child)
            for index, (principal, kind) in enumerate(args.grafana_admins)
        ]
        for index, principal in enumerate(args.grafana_viewers):
            assign_role(f"{name}-grafana-viewer-{index}", principal_id=principal, principal_type="Group",
                        role="Grafana Viewer", scope=grafana.id, opts=child)
        endpoint = grafana.properties.apply(lambda properties: properties.endpoint if properties else "")
        board = GrafanaDashboard(
            f"{name}-dashboard", endpoint=endpoint,
            dashboard_json=pulumi.Output.from_input(args.namespace).apply(
                lambda namespace: dashboard_json(namespace, args.hourly_cost_usd)),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[reader, *admins]),
        )
        return endpoint, board.url


def pod_monitor_spec(pods: Mapping[str, str], port: int, job: str,
                     target_labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Scrape /metrics on `port` of the pods with these labels, as job `job` (a PodMonitor's own job label would
    be podMonitor/<namespace>/<name>), with `target_labels` on every series (which model it is)."""
    labels = {"job": job, **(target_labels or {})}
    return {
        "selector": {"matchLabels": dict(pods)},
        "podMetricsEndpoints": [{"portNumber": port, "path": "/metrics", "interval": "30s",
                                 "relabelings": [{"action": "replace", "targetLabel": label, "replacement": value}
                                                 for label, value in labels.items()]}],
    }


def alert_rules(engine: Engine, namespace: str, ttft_p95_seconds: int, gpu: bool,
                workspace: str) -> list[dict[str, Any]]:
    """One model's alerts, for its engine: only those whose metrics it really exports (components/serving_metrics.py),
    on its own series (the label its PodMonitor adds), so one model down is not hidden by another serving."""
    scope = f'namespace="{namespace}", {WORKSPACE_METRIC_LABEL}="{workspace}"'

    def rule(alert: str, expression: str, for_: str, severity: int, summary: str, action: str,
             labels: Mapping[str, str] | None = None) -> dict[str, Any]:
        return {"alert": alert, "expression": expression, "for_": for_, "severity": severity, "enabled": True,
                "labels": dict(labels or {"component": "model", "workspace": workspace}),
                "annotations": {"summary": summary, "action": action},
                "resolve_configuration": alertsmanagement.PrometheusRuleResolveConfigurationArgs(
                    auto_resolved=True, time_to_resolve="PT10M")}

    rules = [rule(
        "ModelNotServing", f'sum(up{{job="{MODEL_JOB}", {scope}}}) < 1 or absent(up{{job="{MODEL_JOB}", {scope}}})',
        "PT5M", 1, "The model's metrics endpoint has not answered for 5 minutes: the model is not serving.",
        "kubectl get workspace -n <namespace>; README, Troubleshooting (Workspace never becomes ready)",
    )]
    if engine.finished_requests is not None:
        rules.append(rule(
            "ModelErrors",
            f'sum(rate({engine.finished_requests}{{{scope}, finished_reason=~"abort|error"}}[5m])) '
            f'/ sum(rate({engine.finished_requests}{{{scope}}}[5m])) > 0.05',
            "PT10M", 2, "More than 5% of the model's requests ended in an error or were aborted for 10 minutes.",
            "kubectl logs -n <namespace> -l kaito.sh/workspace=<name>; look for out-of-memory or timeouts",
        ))
    if engine.ttft is not None:
        rules.append(rule(
            "SlowFirstToken",
            f'histogram_quantile(0.95, sum by (le) (rate({engine.ttft}_bucket{{{scope}}}[5m]))) > {ttft_p95_seconds}',
            "PT10M", 3, f"95% of answers took longer than {ttft_p95_seconds} s to start, for 10 minutes.",
            "the model is saturated: fewer concurrent users, a bigger VM size, or more replicas",
        ))
    if engine.kv_cache is not None:
        rules.append(rule(
            "KvCacheNearlyFull",
            f'max({engine.kv_cache}{{{scope}}}' + (f' or {engine.kv_cache_later}{{{scope}}}' if engine.kv_cache_later
                                                    else '') + ') > 0.95',
            "PT10M", 3, "The model's KV cache (the GPU memory vLLM keeps for requests in flight) has been over 95% "
            "used for 10 minutes: new requests wait, running ones are preempted.",
            "fewer concurrent users or shorter prompts, a bigger VM size, or more replicas",
        ))
    if gpu:
        # vLLM reserves a fixed share of GPU memory at start (gpu-memory-utilization: 0.9 from KAITO 0.6.0,
        # kaito-project/kaito@v0.6.0:pkg/model/interface.go DefaultMemoryUtilVLLM; 0.84, or 0.82 on an A10, from
        # 0.12.0, @v0.12.0:pkg/model/interface.go), so memory used is always high: 97% is past the reservation and
        # its CUDA context, where the next allocation may fail.
        rules.append(rule(
            "GpuMemoryNearlyFull",
            f'max(DCGM_FI_DEV_FB_USED{{job="{GPU_JOB}"}} / (DCGM_FI_DEV_FB_USED{{job="{GPU_JOB}"}} + '
            f'DCGM_FI_DEV_FB_FREE{{job="{GPU_JOB}"}})) > 0.97',
            "PT10M", 2, "A GPU's memory has been over 97% used for 10 minutes, past what vLLM reserves for itself.",
            "kubectl logs -n <namespace> -l kaito.sh/workspace=<name> for CUDA out-of-memory; a bigger GPU",
            # Any GPU of the stack's models, not one model's.
            labels={"component": "gpu"},
        ))
    return rules


def dashboard_json(namespace: str, hourly_cost_usd: float) -> str:
    """The committed dashboard, with the stack's namespace and estimated $/h filled in."""
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    constants = {"namespace": namespace, "hourly_cost": f"{hourly_cost_usd:g}"}
    for variable in board["templating"]["list"]:
        if variable["name"] in constants:
            variable["query"] = constants[variable["name"]]
    return json.dumps(board, sort_keys=True)
