"""AksCluster: a resource group and an AKS cluster ready for KAITO, plus a Kubernetes provider for it."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s
from pulumi_azure_native import authorization, containerservice, managedidentity, network, resources

from components.identity import BUILT_IN_ROLES, RoleGrant, role_assignment_guid


@dataclass(frozen=True)
class ClusterNetwork:
    """How pods and nodes are networked; chosen at creation (AKS cannot change the plugin later)."""

    plugin: str = "azure"
    plugin_mode: str = "overlay"
    dataplane: str = "cilium"
    policy: str = "cilium"


# Azure CNI overlay with the Cilium dataplane enforces NetworkPolicy, and is the network self-hosted
# Karpenter documents (Azure/karpenter-provider-azure@v1.12.0:README.md, cluster created with
# --network-plugin azure --network-plugin-mode overlay --network-dataplane cilium).
NETWORK = ClusterNetwork()
# The cluster's own subnet (kaito-aks:nodeProvisioner karpenter): AKS's defaults for the VNet it would
# otherwise create; the overlay's pod range (10.244.0.0/16) and the service range (10.0.0.0/16) lie outside.
NODE_VNET_RANGE = "10.224.0.0/12"
NODE_SUBNET_RANGE = "10.224.0.0/16"


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
    own_subnet: bool = False
    """Put the nodes in a subnet of the stack's own VNet, which a node provisioner outside AKS (Karpenter)
    must name; the control plane then uses a user-assigned identity allowed to join that subnet."""


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
    endpoint: pulumi.Output[str]
    """The API server's URL (https://<fqdn>:443), for nodes joining from outside AKS's own pools."""
    kubelet_identity_resource_id: pulumi.Output[str]
    """ARM ID of the identity AKS gives every node's kubelet."""
    kubelet_identity_client_id: pulumi.Output[str]
    """Client ID of that identity."""
    node_subnet_id: pulumi.Output[str] | None
    """ARM ID of the nodes' subnet when the stack owns it (own_subnet), else None (AKS manages it)."""
    node_vnet_guid: pulumi.Output[str] | None
    """resourceGuid of that subnet's VNet, else None."""
    network = NETWORK

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

        identity = containerservice.ManagedClusterIdentityArgs(type="SystemAssigned")
        pool = system_pool_profile(args.system_node_vm_size, args.system_node_count)
        cluster_after: list[pulumi.Resource] = []
        self.node_subnet_id = self.node_vnet_guid = None
        if args.own_subnet:
            vnet = network.VirtualNetwork(
                f"{name}-vnet",
                virtual_network_name=f"vnet-{args.cluster_name}",
                resource_group_name=group.name,
                location=args.location,
                address_space=network.AddressSpaceArgs(address_prefixes=[NODE_VNET_RANGE]),
                tags=dict(args.tags),
                # The subnet is its own resource below; without this every preview would show the VNet
                # dropping it.
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=["subnets"]),
            )
            subnet = network.Subnet(
                f"{name}-nodes-subnet",
                subnet_name="nodes",
                virtual_network_name=vnet.name,
                resource_group_name=group.name,
                address_prefix=NODE_SUBNET_RANGE,
                opts=child,
            )
            # AKS joins the nodes to a subnet it does not own only with an identity allowed to: a
            # user-assigned control-plane identity, Network Contributor on that subnet and nothing more
            # (MS Learn "Use your own virtual network with Azure CNI overlay"; a system-assigned
            # identity would not exist until the cluster does).
            control_plane = managedidentity.UserAssignedIdentity(
                f"{name}-control-plane-identity",
                resource_name_=f"id-{args.cluster_name}-control-plane",
                resource_group_name=group.name,
                location=args.location,
                tags=dict(args.tags),
                opts=child,
            )
            subnet_access = RoleGrant("Network Contributor", subnet.id, "node-subnet")
            joins_subnet = authorization.RoleAssignment(
                f"{name}-control-plane-node-subnet-network-contributor",
                role_assignment_name=role_assignment_guid(f"{name}-control-plane", subnet_access),
                principal_id=control_plane.principal_id,
                principal_type="ServicePrincipal",
                role_definition_id=pulumi.Output.concat(
                    "/subscriptions/", group.id.apply(lambda arm_id: arm_id.split("/")[2]),
                    "/providers/Microsoft.Authorization/roleDefinitions/", BUILT_IN_ROLES["Network Contributor"],
                ),
                scope=subnet.id,
                opts=child,
            )
            identity = containerservice.ManagedClusterIdentityArgs(
                type="UserAssigned", user_assigned_identities=[control_plane.id]
            )
            pool = system_pool_profile(args.system_node_vm_size, args.system_node_count, subnet.id)
            cluster_after = [joins_subnet]
            self.node_subnet_id = subnet.id
            self.node_vnet_guid = vnet.resource_guid

        cluster = containerservice.ManagedCluster(
            f"{name}-aks",
            resource_name_=args.cluster_name,
            resource_group_name=group.name,
            location=args.location,
            dns_prefix=args.cluster_name,
            kubernetes_version=args.kubernetes_version,
            identity=identity,
            sku=containerservice.ManagedClusterSKUArgs(name="Base", tier="Free"),
            enable_rbac=True,
            agent_pool_profiles=[pool],
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
            network_profile=containerservice.ContainerServiceNetworkProfileArgs(
                network_plugin=NETWORK.plugin,
                network_plugin_mode=NETWORK.plugin_mode,
                network_dataplane=NETWORK.dataplane,
                network_policy=NETWORK.policy,
            ),
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=cluster_after,
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
        self.endpoint = pulumi.Output.concat("https://", cluster.fqdn, ":443")
        kubelet = cluster.identity_profile.apply(lambda profile: (profile or {})["kubeletidentity"])
        self.kubelet_identity_resource_id = kubelet.apply(lambda identity: identity.resource_id)
        self.kubelet_identity_client_id = kubelet.apply(lambda identity: identity.client_id)
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


def system_pool_profile(
    vm_size: str, count: int, subnet_id: pulumi.Input[str] | None = None
) -> containerservice.ManagedClusterAgentPoolProfileArgs:
    """The system node pool (Linux, VM scale set): cluster services and small workloads; KAITO adds model nodes."""
    return containerservice.ManagedClusterAgentPoolProfileArgs(
        name="system",
        mode="System",
        os_type="Linux",
        type="VirtualMachineScaleSets",
        vm_size=vm_size,
        count=count,
        vnet_subnet_id=subnet_id,
    )


def decode_first_kubeconfig(kubeconfigs: list | None) -> str:
    """AKS returns kubeconfigs base64-encoded; the provider wants the YAML text."""
    if not kubeconfigs:
        raise ValueError("AKS returned no user kubeconfig for the cluster")
    first = kubeconfigs[0]
    value = first["value"] if isinstance(first, Mapping) else first.value
    return base64.b64decode(value).decode("utf-8")
