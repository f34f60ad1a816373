"""Delete the GPU node pool KAITO made for a Workspace once the Workspace is gone.

The add-on's KAITO does not remove that pool when its Workspace is deleted (MS Learn clean-up
section; vscode-aks-tools#1262): it keeps billing. The pool carries the node label
kaito.sh/workspace=<name> (and kaito.sh/workspacenamespace=<namespace>). An after-delete resource
hook on the Workspace calls delete_workspace_pools with the AKS AgentPools API, so pausing a stack,
replacing a Workspace and `pulumi destroy --run-program` leave no GPU billing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import pulumi

from components import azure_api

WORKSPACE_LABEL = "kaito.sh/workspace"
NAMESPACE_LABEL = "kaito.sh/workspacenamespace"


class AgentPools(Protocol):
    """The part of azure.mgmt.containerservice's agent_pools operations this needs."""

    def list(self, resource_group_name: str, resource_name: str) -> Any: ...

    def begin_delete(self, resource_group_name: str, resource_name: str, agent_pool_name: str) -> Any: ...


@dataclass(frozen=True)
class GpuPoolCleanupTarget:
    """The cluster whose KAITO pools the hook cleans up."""

    resource_group: str
    cluster: str
    subscription_id: str | None = None
    """None: the subscription the Azure CLI (or ARM_SUBSCRIPTION_ID) names when the hook runs."""


def cleanup_hook(
    name: str,
    target: GpuPoolCleanupTarget,
    agent_pools: Callable[[str], AgentPools] = azure_api.agent_pools_client,
) -> pulumi.ResourceHook:
    """An after-delete hook for a Workspace resource (`pulumi destroy` runs it with --run-program).

    The AgentPools client is built only when the hook runs: only a real delete needs credentials."""

    def after_workspace_deleted(args: pulumi.ResourceHookArgs) -> None:
        manifest = dict(args.old_inputs or {})
        metadata = manifest.get("metadata") or {}
        resource = manifest.get("resource") or {}
        subscription = azure_api.find_subscription(target.subscription_id)
        delete_workspace_pools(
            agent_pools(subscription), target.resource_group, target.cluster,
            workspace=metadata.get("name", ""), namespace=metadata.get("namespace"),
            instance_type=resource.get("instanceType"), log=pulumi.log.info,
        )

    return azure_api.blocking_hook(name, after_workspace_deleted)


def delete_workspace_pools(
    pools: AgentPools, resource_group: str, cluster: str, workspace: str, namespace: str | None,
    instance_type: str | None, log: Callable[[str], None] = print,
) -> list[str]:
    """Delete the agent pools KAITO made for `workspace`; return their names.

    Only pools labelled for this Workspace (and namespace, when labelled) and of its old VM size
    go: when a Workspace is replaced under the same name, the new one's pool is left alone.
    """
    from azure.core.exceptions import ResourceNotFoundError

    try:
        listed = [_as_dict(pool) for pool in pools.list(resource_group, cluster)]
    except ResourceNotFoundError:
        log(f"cluster {cluster} is gone: no KAITO node pools left to delete")
        return []
    deleted = []
    for pool in listed:
        properties = pool.get("properties", pool)
        labels = properties.get("nodeLabels") or {}
        if labels.get(WORKSPACE_LABEL) != workspace:
            continue
        if namespace and labels.get(NAMESPACE_LABEL, namespace) != namespace:
            continue
        if instance_type and properties.get("vmSize", "").lower() != instance_type.lower():
            continue
        log(f"deleting KAITO node pool {pool['name']} ({properties.get('vmSize')}) of Workspace {workspace}")
        try:
            pools.begin_delete(resource_group, cluster, pool["name"]).result()
        except ResourceNotFoundError:
            pass  # already gone
        deleted.append(pool["name"])
    return deleted


def _as_dict(pool: Any) -> dict:
    return pool.as_dict() if hasattr(pool, "as_dict") else dict(pool)
