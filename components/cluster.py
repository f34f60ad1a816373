"""AksCluster: a resource group and an AKS cluster ready for KAITO, plus a Kubernetes provider for it."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s
import yaml
from pulumi_azure_native import containerservice, managedidentity, network, resources

from components.cluster_access_check import AKS_SERVER_APP_ID, cluster_access_hook
from components.identity import assign_role, slug
from components.monitoring_workspaces import MonitoringWorkspaces, MonitoringWorkspacesArgs


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
SYSTEM_POOL_MAX_PODS = 110


@dataclass(frozen=True)
class ClusterAccess:
    """Entra ID sign-in with Azure RBAC for Kubernetes authorization; no local accounts."""

    deployer_object_id: pulumi.Input[str]
    """Object ID of the identity running `pulumi up`: it needs cluster-admin to create the stack's Kubernetes
    objects."""
    admin_group_ids: Sequence[str] = ()
    """Entra groups with cluster-admin (Azure Kubernetes Service RBAC Cluster Admin)."""
    reader_group_ids: Sequence[str] = ()
    """Entra groups with read-only access (Azure Kubernetes Service RBAC Reader)."""
    authorized_ip_ranges: Sequence[str] = ()
    """CIDRs allowed to reach the API server; empty: any address."""


@dataclass(frozen=True)
class ClusterOperations:
    """How the cluster is run: SLA tier, automatic upgrades and when, host encryption."""

    sku_tier: str = "Free"
    upgrade_channel: str = "patch"
    node_os_upgrade_channel: str = "NodeImage"
    maintenance_day: str = "Sunday"
    maintenance_start_time: str = "00:00"
    """HH:mm, UTC."""
    encryption_at_host: bool = False
    """On the system pool, at creation (the pool is not updated afterwards)."""


@dataclass(frozen=True)
class ClusterMonitoringOptions:
    metrics: bool = False
    """Azure Monitor managed Prometheus (azureMonitorProfile.metrics); the workspace is made here."""
    logs: bool = False
    """Container Insights (the omsagent add-on with managed-identity auth) into a Log Analytics workspace."""
    log_retention_days: int = 30
    log_daily_cap_gb: int = 1


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
    access: ClusterAccess = field(default_factory=lambda: ClusterAccess(deployer_object_id=""))
    """Who reaches the API server, and how."""
    operations: ClusterOperations = field(default_factory=lambda: ClusterOperations())
    """Pricing tier, automatic upgrades and their window, host encryption."""
    monitoring: ClusterMonitoringOptions = field(default_factory=lambda: ClusterMonitoringOptions())
    """Managed Prometheus and Container Insights, and the workspaces they write to."""
    storage_service_endpoint: bool = False
    """With own_subnet: the subnet's Microsoft.Storage service endpoint, so a storage account can admit the nodes'
    subnet alone (the model weights' account)."""
    blob_csi_driver: bool = False
    """AKS's managed Azure Blob CSI driver (storageProfile.blobCSIDriver), for weights streamed from Blob; KAITO's
    webhook refuses a streaming Workspace without it (kaito-project/kaito@v0.12.0:website/docs/
    model-mirror-streaming.md, Troubleshooting). Left unset otherwise, so existing clusters see no change."""


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
    metrics_workspace_id: pulumi.Output[str] | None
    """The Azure Monitor workspace managed Prometheus writes to; None without metrics."""
    log_workspace_id: pulumi.Output[str] | None
    """The Log Analytics workspace Container Insights writes to; None without container logs."""
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
        pool = system_pool_profile(args.system_node_vm_size, args.system_node_count, args.operations.encryption_at_host)
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
                service_endpoints=[network.ServiceEndpointPropertiesFormatArgs(service="Microsoft.Storage")]
                if args.storage_service_endpoint else None,
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
            joins_subnet = assign_role(
                f"{name}-control-plane-node-subnet-network-contributor",
                principal_id=control_plane.principal_id,
                principal_type="ServicePrincipal",
                role="Network Contributor",
                scope=subnet.id,
                opts=child,
            )
            identity = containerservice.ManagedClusterIdentityArgs(
                type="UserAssigned", user_assigned_identities=[control_plane.id]
            )
            pool = system_pool_profile(
                args.system_node_vm_size, args.system_node_count, args.operations.encryption_at_host, subnet.id
            )
            cluster_after = [joins_subnet]
            self.node_subnet_id = subnet.id
            self.node_vnet_guid = vnet.resource_guid

        access, operations = args.access, args.operations
        workspaces = MonitoringWorkspaces(
            f"{name}-monitoring",
            MonitoringWorkspacesArgs(
                resource_group_name=group.name, location=args.location, name_suffix=args.cluster_name,
                metrics=args.monitoring.metrics, logs=args.monitoring.logs,
                log_retention_days=args.monitoring.log_retention_days,
                log_daily_cap_gb=args.monitoring.log_daily_cap_gb, tags=args.tags,
            ),
            opts=child,
        )
        addons: dict[str, containerservice.ManagedClusterAddonProfileArgs] = {}
        if workspaces.log_workspace_id is not None:
            # Container Insights with managed-identity auth: key-based auth stops ingesting after 2026-09-30
            # (microsoft/Docker-Provider@3.1.24:scripts/onboarding/aks/onboarding-msi-bicep/
            # existingClusterOnboarding.bicep; useAADAuth is the string "true").
            addons["omsagent"] = containerservice.ManagedClusterAddonProfileArgs(
                enabled=True,
                config={"logAnalyticsWorkspaceResourceID": workspaces.log_workspace_id, "useAADAuth": "true"},
            )
        cluster = containerservice.ManagedCluster(
            f"{name}-aks",
            resource_name_=args.cluster_name,
            resource_group_name=group.name,
            location=args.location,
            dns_prefix=args.cluster_name,
            kubernetes_version=args.kubernetes_version,
            identity=identity,
            sku=containerservice.ManagedClusterSKUArgs(name="Base", tier=operations.sku_tier),
            enable_rbac=True,
            # Sign-in through Entra ID only, authorization by Azure role assignments on the cluster: no
            # static credential exists to leak (the kubeconfig holds none), and access is revoked in one place.
            aad_profile=containerservice.ManagedClusterAADProfileArgs(managed=True, enable_azure_rbac=True),
            disable_local_accounts=True,
            api_server_access_profile=containerservice.ManagedClusterAPIServerAccessProfileArgs(
                # An empty list opens the API server to any address again (a removed setting must do that).
                authorized_ip_ranges=list(access.authorized_ip_ranges),
            ),
            auto_upgrade_profile=containerservice.ManagedClusterAutoUpgradeProfileArgs(
                upgrade_channel=operations.upgrade_channel,
                node_os_upgrade_channel=operations.node_os_upgrade_channel,
            ),
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
            addon_profiles=addons or None,
            storage_profile=containerservice.ManagedClusterStorageProfileArgs(
                blob_csi_driver=containerservice.ManagedClusterStorageProfileBlobCSIDriverArgs(enabled=True),
            ) if args.blob_csi_driver else None,
            azure_monitor_profile=containerservice.ManagedClusterAzureMonitorProfileArgs(
                metrics=containerservice.ManagedClusterAzureMonitorProfileMetricsArgs(enabled=True)
            ) if args.monitoring.metrics else None,
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

        self.maintenance_configurations = maintenance_windows(name, group.name, cluster.name, operations, child)
        access_grants = cluster_access_grants(name, cluster.id, access, child)

        # format=exec: a kubeconfig that signs in through kubelogin (the only way once local accounts are off),
        # switched from AKS's interactive device-code login to the caller's own Azure sign-in (kubelogin_exec).
        credentials = containerservice.list_managed_cluster_user_credentials_output(
            resource_group_name=group.name,
            resource_name=cluster.name,
            format="exec",
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        kubeconfig = pulumi.Output.secret(
            credentials.kubeconfigs.apply(decode_first_kubeconfig).apply(
                lambda text: use_azure_cli_sign_in(text, still_local_accounts_ok=pulumi.runtime.is_dry_run())
            )
        )

        provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=kubeconfig,
            # The cluster's ARM ID does not change when its credentials rotate, so a new kubeconfig
            # updates the provider instead of replacing every Kubernetes object.
            cluster_identifier=cluster.id,
            # `pulumi destroy` still finishes when the cluster is already gone.
            delete_unreachable=True,
            # Nothing is created in the cluster before the deployer may create it.
            opts=pulumi.ResourceOptions(parent=self, depends_on=access_grants.deployer),
        )

        self.metrics_workspace_id = workspaces.metrics_workspace_id
        self.log_workspace_id = workspaces.log_workspace_id
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
    vm_size: str, count: int, encryption_at_host: bool, subnet_id: pulumi.Input[str] | None = None
) -> containerservice.ManagedClusterAgentPoolProfileArgs:
    """The system node pool (Linux, VM scale set): cluster services and small workloads; KAITO adds model nodes."""
    return containerservice.ManagedClusterAgentPoolProfileArgs(
        name="system",
        mode="System",
        os_type="Linux",
        type="VirtualMachineScaleSets",
        vm_size=vm_size,
        count=count,
        # Stated rather than left to the network plugin's default: 110 is Kubernetes' own per-node default,
        # room for the daemon sets and the cluster services, well within what AKS accepts (up to 250).
        max_pods=SYSTEM_POOL_MAX_PODS,
        enable_encryption_at_host=encryption_at_host,
        vnet_subnet_id=subnet_id,
    )


# Azure RBAC roles on the cluster (MicrosoftDocs/azure-docs@c0b7e64c:articles/role-based-access-control/built-in-roles/
# containers.md). RBAC Cluster Admin includes listClusterUserCredential (`az aks get-credentials`); RBAC Reader does
# not, so readers also get Cluster User Role, which allows that and reading the cluster resource, nothing more.
ADMIN_ROLES = ("Azure Kubernetes Service RBAC Cluster Admin",)
READER_ROLES = ("Azure Kubernetes Service RBAC Reader", "Azure Kubernetes Service Cluster User Role")


@dataclass(frozen=True)
class AccessGrants:
    deployer: list[pulumi.Resource]
    groups: list[pulumi.Resource]


def cluster_access_grants(
    name: str, cluster_id: pulumi.Input[str], access: ClusterAccess, opts: pulumi.ResourceOptions
) -> AccessGrants:
    """Role assignments on the cluster: cluster-admin for the deployer and the admin groups, read-only for readers.

    The deployer's is one resource whose principal is whoever runs `pulumi up`: when another identity deploys
    the stack, the assignment moves to it (people keep access through the groups)."""
    deployer = assign_role(
        f"{name}-deployer-rbac-cluster-admin",
        principal_id=access.deployer_object_id,
        principal_type=None,  # a user on a laptop, a service principal in CI
        role=ADMIN_ROLES[0],
        scope=cluster_id,
        # Done only once the API server honours it (components/cluster_access_check.py).
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(hooks=pulumi.ResourceHookBinding(
            after_create=[cluster_access_hook(f"{name}-wait-for-cluster-access")]))),
    )
    groups = [
        assign_role(
            f"{name}-{kind}-group-{group_id}-{slug(role)}",
            principal_id=group_id,
            principal_type="Group",
            role=role,
            scope=cluster_id,
            opts=opts,
        )
        for kind, group_ids, roles in (("admin", access.admin_group_ids, ADMIN_ROLES),
                                       ("reader", access.reader_group_ids, READER_ROLES))
        for group_id in group_ids
        for role in roles
    ]
    return AccessGrants(deployer=[deployer], groups=groups)


# The two windows AKS reads for automatic upgrades (pulumi_azure_native.containerservice.MaintenanceConfiguration,
# config_name; API 2025-09-01): four hours, the shortest AKS accepts, weekly.
AUTO_UPGRADE_WINDOW = "aksManagedAutoUpgradeSchedule"
NODE_OS_UPGRADE_WINDOW = "aksManagedNodeOSUpgradeSchedule"
WINDOW_HOURS = 4


def maintenance_windows(
    name: str, resource_group_name: pulumi.Input[str], cluster_name: pulumi.Input[str],
    operations: ClusterOperations, opts: pulumi.ResourceOptions,
) -> list[containerservice.MaintenanceConfiguration]:
    """The weekly window for each automatic upgrade the channels turn on."""
    window = containerservice.MaintenanceWindowArgs(
        schedule=containerservice.ScheduleArgs(
            weekly=containerservice.WeeklyScheduleArgs(day_of_week=operations.maintenance_day, interval_weeks=1)
        ),
        start_time=operations.maintenance_start_time,
        duration_hours=WINDOW_HOURS,
        utc_offset="+00:00",
    )
    wanted = []
    if operations.upgrade_channel != "none":
        wanted.append(("auto-upgrade", AUTO_UPGRADE_WINDOW))
    if operations.node_os_upgrade_channel in ("NodeImage", "SecurityPatch"):
        wanted.append(("node-os-upgrade", NODE_OS_UPGRADE_WINDOW))
    return [
        containerservice.MaintenanceConfiguration(
            f"{name}-{suffix}-window",
            resource_group_name=resource_group_name,
            resource_name_=cluster_name,
            config_name=config_name,
            maintenance_window=window,
            opts=opts,
        )
        for suffix, config_name in wanted
    ]


KUBELOGIN_INSTALL_HINT = (
    "kaito-aks signs in to the cluster with kubelogin: install it with `az aks install-cli` "
    "(or https://azure.github.io/kubelogin/install.html), then run `az login`"
)


def use_azure_cli_sign_in(kubeconfig_text: str, still_local_accounts_ok: bool = False) -> str:
    """AKS's exec kubeconfig asks kubelogin for an interactive device-code login, which a deployment cannot
    answer. Rewrite its user to what `kubelogin convert-kubeconfig -l azurecli` writes
    (Azure/kubelogin@v0.2.19:pkg/internal/converter/convert.go): the token of whoever is signed in to the Azure
    CLI. In CI, AAD_LOGIN_METHOD=workloadidentity switches kubelogin to the workflow's federated token instead
    (Azure/kubelogin@v0.2.19:pkg/internal/token/options.go, UpdateFromEnv), with the same kubeconfig.

    A preview of a cluster deployed before it had Entra ID (`still_local_accounts_ok`) sees that cluster's
    local-account kubeconfig (AKS ignores format=exec for it): it is used as it is, with a warning, until the
    update turns Entra ID on."""
    config = yaml.safe_load(kubeconfig_text)
    users = config.get("users") or []
    execs = [user.get("user", {}).get("exec") for user in users]
    if not users or not all(execs):
        if still_local_accounts_ok:
            pulumi.log.warn("the cluster does not use Entra ID sign-in yet: this preview reads it with its local "
                            "account; `pulumi up` turns Entra ID on and local accounts off (docs/UPGRADING.md)")
            return kubeconfig_text
        raise ValueError("AKS returned a kubeconfig without a kubelogin (exec) user; is the cluster Entra ID-enabled?")
    for user, current in zip(users, execs, strict=True):
        args = list(current.get("args") or [])
        server_id = args[args.index("--server-id") + 1] if "--server-id" in args else AKS_SERVER_APP_ID
        user["user"] = {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "kubelogin",
            "args": ["get-token", "--login", "azurecli", "--server-id", server_id],
            "installHint": KUBELOGIN_INSTALL_HINT,
            "interactiveMode": "Never",
            "provideClusterInfo": False,
        }}
    return yaml.safe_dump(config, sort_keys=False)



def decode_first_kubeconfig(kubeconfigs: list | None) -> str:
    """AKS returns kubeconfigs base64-encoded; the provider wants the YAML text."""
    if not kubeconfigs:
        raise ValueError("AKS returned no user kubeconfig for the cluster")
    first = kubeconfigs[0]
    value = first["value"] if isinstance(first, Mapping) else first.value
    return base64.b64decode(value).decode("utf-8")
