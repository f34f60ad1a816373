"""UpstreamKaito: KAITO installed from its own Helm charts, with the GPU provisioner signing in to
Azure through workload identity (kaito-aks:kaitoInstall=upstream).

Two charts, versions pinned:
- KAITO's workspace controller (chart `workspace` from KAITO's published Helm repository);
- Azure's gpu-provisioner, which creates an AKS agent pool for each Workspace. Its service account
  gpu-provisioner/gpu-provisioner signs in as a user-assigned identity through a federated
  credential on the cluster's OIDC issuer. That identity gets Contributor on the managed cluster
  resource and nothing wider: the provisioner only creates, reads and deletes agent pools, which
  are child resources of the cluster (AKS's own identity then builds the VMs in the node resource
  group). This is the scope KAITO's Azure setup guide uses.
The federated credential and the role assignment exist before the provisioner chart is installed,
so its first pod already gets a token: no "restart the deployment" step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.identity import RoleGrant, WorkloadIdentity, WorkloadIdentityArgs

KAITO_HELM_REPO = "https://kaito-project.github.io/kaito/charts/kaito"
KAITO_CHART_VERSION = "0.12.0"
GPU_PROVISIONER_VERSION = "0.3.5"
GPU_PROVISIONER_CHART = (
    f"https://github.com/Azure/gpu-provisioner/raw/gh-pages/charts/gpu-provisioner-{GPU_PROVISIONER_VERSION}.tgz"
)
KAITO_NAMESPACE = "kaito-workspace"
PROVISIONER_NAMESPACE = "gpu-provisioner"
PROVISIONER_SERVICE_ACCOUNT = "gpu-provisioner"


@dataclass(frozen=True)
class UpstreamKaitoArgs:
    """The cluster KAITO is installed into, as the provisioner must know it."""

    cluster_name: str
    resource_group_name: pulumi.Input[str]
    location: str
    cluster_id: pulumi.Input[str]
    node_resource_group: pulumi.Input[str]
    oidc_issuer_url: pulumi.Input[str]
    tags: Mapping[str, str] = field(default_factory=dict)


class UpstreamKaito(pulumi.ComponentResource):
    """KAITO's workspace controller and the Azure GPU provisioner, with the provisioner's identity."""

    identity: WorkloadIdentity

    def __init__(self, name: str, args: UpstreamKaitoArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kaito-aks:kaito_install:UpstreamKaito", name, {}, opts)
        subscription_id = pulumi.Output.from_input(args.cluster_id).apply(subscription_of)

        self.identity = WorkloadIdentity(
            f"{name}-gpu-provisioner",
            WorkloadIdentityArgs(
                identity_name=f"id-{args.cluster_name}-gpu-provisioner",
                resource_group_name=args.resource_group_name,
                location=args.location,
                oidc_issuer_url=args.oidc_issuer_url,
                namespace=PROVISIONER_NAMESPACE,
                service_account=PROVISIONER_SERVICE_ACCOUNT,
                subscription_id=subscription_id,
                roles=[RoleGrant("Contributor", args.cluster_id, "cluster")],
                tags=args.tags,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.workspace_controller = k8s.helm.v3.Release(
            f"{name}-workspace-controller",
            name="kaito-workspace",
            chart="workspace",
            version=KAITO_CHART_VERSION,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=KAITO_HELM_REPO),
            namespace=KAITO_NAMESPACE,
            create_namespace=True,
            values={"clusterName": args.cluster_name},
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
        self.register_outputs({
            "provisionerClientId": self.identity.client_id,
            "workspaceControllerStatus": self.workspace_controller.status,
        })


def subscription_of(arm_id: str) -> str:
    """/subscriptions/<id>/resourceGroups/... -> <id>"""
    parts = arm_id.split("/")
    return parts[2] if len(parts) > 2 and parts[1].lower() == "subscriptions" else ""


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
