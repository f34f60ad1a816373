"""AksCluster: a resource group and an AKS cluster ready for KAITO, plus a Kubernetes provider for it."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s
from pulumi_azure_native import containerservice, resources


@dataclass(frozen=True)
class AksClusterArgs:
    """What the cluster needs to know; plain values, validated by stacks/settings."""

    resource_group_name: str
    """Name of the resource group that holds the cluster."""
    cluster_name: str
    """Name of the AKS managed cluster (also its DNS prefix)."""
    location: str
    """Azure region, e.g. eastus."""
    system_node_vm_size: str
    """VM size of the system pool (cluster services, the demo app); KAITO adds model nodes itself."""
    system_node_count: int
    """Nodes in the system pool."""
    kubernetes_version: str | None = None
    """Kubernetes version; None lets AKS pick its default."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags for every Azure resource."""
    ai_toolchain_operator: bool = True
    """The KAITO add-on; False when KAITO is installed from its Helm charts (the two conflict)."""


class AksCluster(pulumi.ComponentResource):
    """AKS with the AI toolchain operator (KAITO) add-on, OIDC issuer and workload identity."""

    resource_group_name: pulumi.Output[str]
    """Name of the resource group."""
    resource_group_id: pulumi.Output[str]
    """ARM ID of the resource group (the scope of the stack's budget)."""
    cluster_name: pulumi.Output[str]
    """Name of the managed cluster."""
    cluster_id: pulumi.Output[str]
    """ARM ID of the managed cluster."""
    oidc_issuer_url: pulumi.Output[str]
    """The cluster's OIDC issuer URL, for federated identity credentials."""
    node_resource_group: pulumi.Output[str]
    """The resource group AKS creates for nodes (KAITO's GPU pools live there)."""
    kubeconfig: pulumi.Output[str]
    """User kubeconfig, a Pulumi secret."""
    provider: k8s.Provider
    """Kubernetes provider bound to this cluster."""

    def __init__(self, name: str, args: AksClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kaito-aks:cluster:AksCluster", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)

        group = resources.ResourceGroup(
            f"{name}-rg",
            resource_group_name=args.resource_group_name,
            location=args.location,
            tags=dict(args.tags),
            opts=child,
        )

        cluster = containerservice.ManagedCluster(
            f"{name}-aks",
            resource_name_=args.cluster_name,
            resource_group_name=group.name,
            location=args.location,
            dns_prefix=args.cluster_name,
            kubernetes_version=args.kubernetes_version,
            identity=containerservice.ManagedClusterIdentityArgs(type="SystemAssigned"),
            sku=containerservice.ManagedClusterSKUArgs(name="Base", tier="Free"),
            enable_rbac=True,
            agent_pool_profiles=[system_pool_profile(args.system_node_vm_size, args.system_node_count)],
            # The add-on requires the OIDC issuer (the resource provider validates the pair);
            # workload identity lets pods reach Azure without secrets. Upstream KAITO keeps both
            # and turns the add-on off explicitly, since the two installations conflict.
            ai_toolchain_operator_profile=containerservice.ManagedClusterAIToolchainOperatorProfileArgs(
                enabled=args.ai_toolchain_operator
            ),
            oidc_issuer_profile=containerservice.ManagedClusterOIDCIssuerProfileArgs(enabled=True),
            security_profile=containerservice.ManagedClusterSecurityProfileArgs(
                workload_identity=containerservice.ManagedClusterSecurityProfileWorkloadIdentityArgs(enabled=True),
            ),
            # Azure CNI overlay with the Cilium dataplane enforces NetworkPolicy. The network plugin
            # cannot be changed after creation, so it is chosen now rather than when a policy lands.
            network_profile=containerservice.ContainerServiceNetworkProfileArgs(
                network_plugin="azure",
                network_plugin_mode="overlay",
                network_dataplane="cilium",
                network_policy="cilium",
            ),
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(
                parent=self,
                # KAITO's node provisioner adds a GPU agent pool per Workspace through the AgentPools
                # API; after a refresh those pools appear in agentPoolProfiles, and without this the
                # next `pulumi up` would try to remove them. The system pool is therefore set at
                # creation only: resize it later with `az aks nodepool scale`.
                ignore_changes=["agentPoolProfiles"],
            ),
        )

        credentials = containerservice.list_managed_cluster_user_credentials_output(
            resource_group_name=group.name,
            resource_name=cluster.name,
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        kubeconfig = pulumi.Output.secret(credentials.kubeconfigs.apply(decode_first_kubeconfig))

        provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=kubeconfig,
            # The cluster's ARM ID does not change when its credentials rotate, so a new kubeconfig
            # updates the provider instead of replacing every Kubernetes object.
            cluster_identifier=cluster.id,
            # `pulumi destroy` still finishes when the cluster is already gone.
            delete_unreachable=True,
            opts=child,
        )

        self.resource_group_name = group.name
        self.resource_group_id = group.id
        self.cluster_name = cluster.name
        self.cluster_id = cluster.id
        self.oidc_issuer_url = cluster.oidc_issuer_profile.apply(lambda p: p.issuer_url if p else None)
        self.node_resource_group = cluster.node_resource_group
        self.kubeconfig = kubeconfig
        self.provider = provider
        self.register_outputs(
            {
                "resourceGroupName": self.resource_group_name,
                "clusterName": self.cluster_name,
                "clusterId": self.cluster_id,
                "oidcIssuerUrl": self.oidc_issuer_url,
                "nodeResourceGroup": self.node_resource_group,
                "kubeconfig": self.kubeconfig,
            }
        )


def system_pool_profile(vm_size: str, count: int) -> containerservice.ManagedClusterAgentPoolProfileArgs:
    """The system node pool (Linux, VM scale set): cluster services and small workloads; KAITO adds model nodes."""
    return containerservice.ManagedClusterAgentPoolProfileArgs(
        name="system",
        mode="System",
        os_type="Linux",
        type="VirtualMachineScaleSets",
        vm_size=vm_size,
        count=count,
    )


def decode_first_kubeconfig(kubeconfigs: list | None) -> str:
    """AKS returns kubeconfigs base64-encoded; the provider wants the YAML text."""
    if not kubeconfigs:
        raise ValueError("AKS returned no user kubeconfig for the cluster")
    first = kubeconfigs[0]
    value = first["value"] if isinstance(first, Mapping) else first.value
    return base64.b64decode(value).decode("utf-8")
