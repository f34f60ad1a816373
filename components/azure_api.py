"""Reaching Azure's management APIs from inside a program run (preflight, the GPU-pool clean-up hook).

Credentials are DefaultAzureCredential's: `az login` on a laptop, OIDC (azure/login) in CI.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping

import pulumi


class NoSubscription(Exception):
    """No Azure subscription could be found."""


def find_subscription(
    explicit: str | None, env: Mapping[str, str] | None = None, run: Callable = subprocess.run
) -> str:
    """azure-native:subscriptionId, else ARM_SUBSCRIPTION_ID/AZURE_SUBSCRIPTION_ID, else the az CLI's."""
    env = os.environ if env is None else env
    for candidate in (explicit, env.get("ARM_SUBSCRIPTION_ID"), env.get("AZURE_SUBSCRIPTION_ID")):
        if candidate:
            return candidate
    if shutil.which("az"):
        result = run(["az", "account", "show", "--query", "id", "--output", "tsv"], capture_output=True, text=True)
        if result.returncode == 0 and result.stdout.strip():
            return result.stdout.strip()
    raise NoSubscription(
        "no Azure subscription: run `az login` (and `az account set --subscription <id>`), or set "
        "azure-native:subscriptionId or ARM_SUBSCRIPTION_ID"
    )


def credential():
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(exclude_interactive_browser_credential=True)


def agent_pools_client(subscription_id: str):
    """The AKS AgentPools operations (azure-mgmt-containerservice)."""
    from azure.mgmt.containerservice import ContainerServiceClient

    return ContainerServiceClient(credential(), subscription_id).agent_pools


def managed_clusters_client(subscription_id: str):
    """The AKS ManagedClusters operations (azure-mgmt-containerservice)."""
    from azure.mgmt.containerservice import ContainerServiceClient

    return ContainerServiceClient(credential(), subscription_id).managed_clusters


def blocking_hook(name: str, work: Callable[[pulumi.ResourceHookArgs], None]) -> pulumi.ResourceHook:
    """A resource hook whose work blocks (Azure SDK calls, waiting): it runs in a thread, so the program's
    event loop, which also answers the engine's other callbacks, stays free while it waits."""

    async def hook(args: pulumi.ResourceHookArgs) -> None:
        await asyncio.to_thread(work, args)

    return pulumi.ResourceHook(name, hook)
