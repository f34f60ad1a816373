"""UpstreamKaito: KAITO installed from its own Helm charts (kaito-aks:kaitoInstall=upstream).

KAITO's workspace controller, chart `workspace` 0.12.0 from KAITO's Helm repository, installed as
KAITO's Azure guide does (kaito-project/kaito@v0.12.0:website/docs/installation.md: release
kaito-workspace in namespace kaito-workspace, `clusterName`), with the node provisioner it drives:

- `karpenter` (the default, what KAITO 0.12 recommends for new clusters,
  kaito-project/kaito@v0.12.0:website/docs/azure.md): the chart's `nodeProvisioner=karpenter` and
  the AKSNodeClasses it creates at start (`karpenterProviders.azure.nodeClasses`, set here as the
  chart's own defaults so the program states what it asks for; charts/kaito/workspace/values.yaml at
  v0.12.0). Karpenter itself is the Karpenter component, installed first: KAITO's controller needs
  its CRDs at start (pkg/nodeprovision/karpenter/provisioner.go).
- `gpu-provisioner` (deprecated by KAITO 0.12, for stacks created before kaito-aks moved to
  Karpenter): Azure's gpu-provisioner at the version KAITO 0.12 pins (GPU_PROVISIONER_VERSION in
  kaito-project/kaito@v0.12.0:Makefile; 0.3.6 and later know the KaitoNodeClass 0.12's NodeClaims
  name), with the values its configure-helm-values.sh writes. Its service account
  gpu-provisioner/gpu-provisioner signs in through a federated credential as an identity with a custom
  role on the managed cluster that allows exactly what it calls: read, create and delete agent pools
  (GPU_PROVISIONER_ACTIONS). The chart's default `nodeProvisioner` is this one.
The provisioner's identity exists before its chart is installed, so its first pod already gets a
token: no "restart the deployment" step.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pulumi_azure_native import authorization

from components.identity import RoleGrant, WorkloadIdentity, WorkloadIdentityArgs, subscription_of
from components.kubernetes import inherited_dependencies

KAITO_HELM_REPO = "https://kaito-project.github.io/kaito/charts/kaito"
KAITO_CHART_VERSION = "0.12.0"
GPU_PROVISIONER_VERSION = "0.4.4"
GPU_PROVISIONER_CHART = (
    f"https://github.com/Azure/gpu-provisioner/raw/gh-pages/charts/gpu-provisioner-{GPU_PROVISIONER_VERSION}.tgz"
)
# Every Azure call the gpu-provisioner makes goes through the AKS AgentPools client: BeginCreateOrUpdate, Get,
# NewListPager, BeginDelete (Azure/gpu-provisioner@v0.4.3:pkg/providers/instance/azure_client.go AgentPoolsAPI,
# armutils.go), all under the managed cluster; AKS creates the scale sets itself. v0.4.3 is the newest tag in the
# repository (KAITO pins 0.4.4, whose source is not published as a tag).
GPU_PROVISIONER_ACTIONS = (
    "Microsoft.ContainerService/managedClusters/agentPools/read",
    "Microsoft.ContainerService/managedClusters/agentPools/write",
    "Microsoft.ContainerService/managedClusters/agentPools/delete",
)
KAITO_NAMESPACE = "kaito-workspace"
PROVISIONER_NAMESPACE = "gpu-provisioner"
PROVISIONER_SERVICE_ACCOUNT = "gpu-provisioner"
NODE_PROVISIONERS = ("karpenter", "gpu-provisioner")
# The chart's default node classes (charts/kaito/workspace/values.yaml at v0.12.0): KAITO creates one
# karpenter.azure.com/v1beta1 AKSNodeClass per entry; Workspaces use the default one.
AKS_NODE_CLASSES: list[dict[str, Any]] = [
    {"name": "image-family-ubuntu", "default": True, "spec": {"imageFamily": "Ubuntu2204", "osDiskSizeGB": 300}},
    {"name": "image-family-azure-linux", "spec": {"imageFamily": "AzureLinux", "osDiskSizeGB": 300}},
]


@dataclass(frozen=True)
class UpstreamKaitoArgs:
    """The cluster KAITO is installed into, and which node provisioner it drives."""

    cluster_name: str
    resource_group_name: pulumi.Input[str]
    location: str
    cluster_id: pulumi.Input[str]
    node_resource_group: pulumi.Input[str]
    oidc_issuer_url: pulumi.Input[str]
    node_provisioner: str = "karpenter"
    """karpenter (installed separately, before this) or gpu-provisioner (installed here)."""
    encryption_at_host: bool = False
    """Karpenter only: the model nodes' node classes ask for encryption at host."""
    spot_nodes: bool = False
    """The model may run on spot nodes (kaito-aks:capacityType spot, Karpenter only)."""
    model_streaming: tuple[str, str, str, str] | None = None
    """(StorageClass, service account, download CPU, download memory) of weights mirrored to Blob and streamed
    (components/model_weights.py); None: every model pod downloads its weights itself."""
    tags: Mapping[str, str] = field(default_factory=dict)


class UpstreamKaito(pulumi.ComponentResource):
    """KAITO's workspace controller, and the gpu-provisioner with its identity when that is the provisioner.

    The Kubernetes provider comes through `opts` (`providers=[provider]`)."""

    identity: WorkloadIdentity | None
    """The gpu-provisioner's identity; None with Karpenter (the Karpenter component has its own)."""

    def __init__(self, name: str, args: UpstreamKaitoArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kaito-aks:kaito_install:UpstreamKaito", name, {}, opts)
        if args.node_provisioner not in NODE_PROVISIONERS:
            raise ValueError(f"node_provisioner must be one of {NODE_PROVISIONERS}, not {args.node_provisioner!r}")
        # With Karpenter, what the component waits for (its CRDs must exist when KAITO starts).
        after = inherited_dependencies(opts)

        self.workspace_controller = k8s.helm.v3.Release(
            f"{name}-workspace-controller",
            name="kaito-workspace",
            chart="workspace",
            version=KAITO_CHART_VERSION,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=KAITO_HELM_REPO),
            namespace=KAITO_NAMESPACE,
            create_namespace=True,
            values=workspace_chart_values(
                args.cluster_name, args.node_provisioner, args.encryption_at_host, args.spot_nodes,
                args.model_streaming,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=after),
        )

        self.identity = None
        self.gpu_provisioner: k8s.helm.v3.Release | None = None
        if args.node_provisioner == "gpu-provisioner":
            subscription_id = pulumi.Output.from_input(args.cluster_id).apply(subscription_of)
            group_id = pulumi.Output.concat("/subscriptions/", subscription_id, "/resourceGroups/",
                                            args.resource_group_name)
            agent_pool_role = authorization.RoleDefinition(
                f"{name}-gpu-provisioner-role",
                # Definition IDs and role names are unique in the whole tenant: derive both from the cluster's
                # resource group. A custom role can be assignable at a resource group, not at one resource; the
                # assignment below is on the cluster alone.
                role_definition_id=group_id.apply(
                    lambda arm_id: str(uuid.uuid5(uuid.NAMESPACE_URL, f"kaito-aks/gpu-provisioner/{arm_id.lower()}"))
                ),
                role_name=pulumi.Output.concat("kaito-aks gpu-provisioner agent pools (", args.resource_group_name,
                                               ", ", subscription_id, ")"),
                description="Read, create and delete a cluster's agent pools: what Azure/gpu-provisioner calls.",
                role_type="CustomRole",
                permissions=[authorization.PermissionArgs(actions=list(GPU_PROVISIONER_ACTIONS))],
                assignable_scopes=[group_id],
                scope=pulumi.Output.concat("/subscriptions/", subscription_id),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.identity = WorkloadIdentity(
                f"{name}-gpu-provisioner",
                WorkloadIdentityArgs(
                    identity_name=f"id-{args.cluster_name}-gpu-provisioner",
                    resource_group_name=args.resource_group_name,
                    location=args.location,
                    oidc_issuer_url=args.oidc_issuer_url,
                    namespace=PROVISIONER_NAMESPACE,
                    service_account=PROVISIONER_SERVICE_ACCOUNT,
                    roles=[RoleGrant("agent pool operator", args.cluster_id, "cluster",
                                     role_definition_id=agent_pool_role.id)],
                    tags=args.tags,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.gpu_provisioner = k8s.helm.v3.Release(
                f"{name}-gpu-provisioner",
                name="gpu-provisioner",
                chart=GPU_PROVISIONER_CHART,
                namespace=PROVISIONER_NAMESPACE,
                create_namespace=True,
                values=gpu_provisioner_values(
                    subscription_id=subscription_id,
                    location=args.location,
                    cluster_name=args.cluster_name,
                    resource_group=args.resource_group_name,
                    node_resource_group=args.node_resource_group,
                    client_id=self.identity.client_id,
                    tenant_id=self.identity.tenant_id,
                ),
                opts=pulumi.ResourceOptions(
                    parent=self,
                    depends_on=[
                        self.identity.federated_credential, *self.identity.role_assignments, self.workspace_controller,
                    ],
                ),
            )
        self.register_outputs({"workspaceControllerStatus": self.workspace_controller.status})


def workspace_chart_values(
    cluster_name: str, node_provisioner: str, encryption_at_host: bool = False, spot_nodes: bool = False,
    model_streaming: tuple[str, str, str, str] | None = None,
) -> dict[str, Any]:
    """KAITO's chart values. With the gpu-provisioner they stay what they were (its chart default)."""
    values: dict[str, Any] = {"clusterName": cluster_name}
    if model_streaming is not None:
        # Both gates (ModelStreaming needs ModelMirror) and the defaults every Workspace then uses, as KAITO's guide
        # installs them (kaito-project/kaito@v0.12.0:charts/kaito/workspace/values.yaml featureGates,
        # defaultModelMirrorStorageClass, defaultStreamingServiceAccount; website/docs/model-mirror-streaming.md).
        storage_class, service_account, download_cpu, download_memory = model_streaming
        values["featureGates"] = {"ModelMirror": True, "ModelStreaming": True}
        values["defaultModelMirrorStorageClass"] = storage_class
        values["defaultStreamingServiceAccount"] = service_account
        # The download Job's CPU and memory (values.yaml modelMirrorDownloadCPU, modelMirrorDownloadMemory).
        values["modelMirrorDownloadCPU"] = download_cpu
        values["modelMirrorDownloadMemory"] = download_memory
    if spot_nodes:
        # The chart's NVIDIA device plugin then tolerates kubernetes.azure.com/scalesetpriority=spot:NoSchedule, the
        # taint AKS puts on spot node pools, as KAITO's inference pods always do on Azure (kaito-project/
        # kaito@v0.12.0:charts/kaito/workspace/templates/nvidia-device-plugin-ds.yaml and values.yaml spotInstance;
        # pkg/workspace/inference/preset_inferences.go). Azure Karpenter's own spot VMs carry only the NodeClaim's
        # taints today, so this is a safeguard, harmless where the taint is absent.
        values["spotInstance"] = {"enabled": True}
    if node_provisioner == "karpenter":
        values["nodeProvisioner"] = "karpenter"
        node_classes = AKS_NODE_CLASSES
        if encryption_at_host:
            # AKSNodeClass spec.security.encryptionAtHost (Azure/karpenter-provider-azure@v1.12.0:pkg/apis/crds/
            # karpenter.azure.com_aksnodeclasses.yaml).
            node_classes = [
                {**node_class, "spec": {**node_class["spec"], "security": {"encryptionAtHost": True}}}
                for node_class in AKS_NODE_CLASSES
            ]
        values["karpenterProviders"] = {"azure": {"nodeClasses": node_classes}}
    return values


def gpu_provisioner_values(
    *, subscription_id: pulumi.Input[str], location: str, cluster_name: str, resource_group: pulumi.Input[str],
    node_resource_group: pulumi.Input[str], client_id: pulumi.Input[str], tenant_id: pulumi.Input[str],
) -> dict[str, Any]:
    """The chart values Azure/gpu-provisioner's own configure-helm-values.sh writes, from stack outputs."""
    return {
        "replicas": 1,
        "settings": {"azure": {"clusterName": cluster_name}},
        "controller": {
            "env": [
                {"name": "ARM_SUBSCRIPTION_ID", "value": subscription_id},
                {"name": "LOCATION", "value": location},
                {"name": "AZURE_CLUSTER_NAME", "value": cluster_name},
                {"name": "AZURE_NODE_RESOURCE_GROUP", "value": node_resource_group},
                {"name": "ARM_RESOURCE_GROUP", "value": resource_group},
            ],
        },
        "workloadIdentity": {"clientId": client_id, "tenantId": tenant_id},
    }
