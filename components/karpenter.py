"""Karpenter: self-hosted Azure Karpenter, the node provisioner KAITO 0.12 recommends (kaitoInstall upstream).

KAITO 0.12 marks Azure's gpu-provisioner deprecated and points new clusters at self-hosted Azure
Karpenter (kaito-project/kaito@v0.12.0:website/docs/azure.md). This component installs it the way
KAITO's own `azure-karpenter-helm` target does (kaito-project/kaito@v0.12.0:Makefile: chart
oci://mcr.microsoft.com/aks/karpenter/karpenter 1.12.0, namespace karpenter, service account
karpenter-sa, one CPU and 1 GiB for the controller), with the values upstream's template renders
(Azure/karpenter-provider-azure@v1.12.0:karpenter-values-template.yaml), filled from stack outputs
instead of `az` and `kubectl` calls:

- an identity for the service account, through WorkloadIdentity: the federated credential subject
  system:serviceaccount:karpenter:karpenter-sa, and the roles KAITO's script grants
  (kaito-project/kaito@v0.12.0:hack/deploy/generate-identities.sh): Virtual Machine Contributor,
  Network Contributor and Managed Identity Operator on the node resource group, where Karpenter
  creates VMs and NICs and attaches the kubelet identity; plus Network Contributor on the nodes'
  subnet alone, to join NICs to it (Azure/karpenter-provider-azure@v1.12.0:Makefile-az.mk
  az-perm-subnet-custom grants it on the subnet's resource group; the subnet is narrower);
- a bootstrap token new nodes join with. Upstream copies the first token AKS keeps in kube-system
  (configure-values.sh); a Pulumi program cannot list Secrets, so kaito-aks makes its own: a
  kube-system Secret of type bootstrap.kubernetes.io/token (kubernetes/kubernetes:staging/src/
  k8s.io/cluster-bootstrap/token/api/types.go) in the group system:bootstrappers:kaito-aks-karpenter,
  bound to the two built-in roles kubelet TLS bootstrapping needs, system:node-bootstrapper and
  system:certificates.k8s.io:certificatesigningrequests:nodeclient (kubernetes/kubernetes:plugin/pkg/
  auth/authorizer/rbac/bootstrappolicy/policy.go). The token sits in state as a secret and reaches
  the controller from a Kubernetes Secret (controller.envFrom), not from the Helm values;
- an SSH public key for the VMs, which the controller requires (SSH_PUBLIC_KEY,
  Azure/karpenter-provider-azure@v1.12.0:pkg/operator/options/options.go); its private half stays in
  state and is never used.
settings.featureGates.staticCapacity is on: KAITO gives every NodePool a fixed replica count, which
Karpenter honours only with that gate (the values template sets it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
import pulumi_tls as tls

from components.cluster import ClusterNetwork
from components.identity import RoleGrant, WorkloadIdentity, WorkloadIdentityArgs

CHART = "oci://mcr.microsoft.com/aks/karpenter/karpenter"
CHART_VERSION = "1.12.0"
NAMESPACE = "karpenter"
SERVICE_ACCOUNT = "karpenter-sa"
BOOTSTRAP_GROUP = "system:bootstrappers:kaito-aks-karpenter"
TOKEN_SECRET = "karpenter-bootstrap-token"
# kubelet TLS bootstrapping: create a CSR, and have the node client CSR approved.
BOOTSTRAP_ROLES = {
    "node-bootstrapper": "system:node-bootstrapper",
    "auto-approve-node-client": "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
}


@dataclass(frozen=True)
class KarpenterArgs:
    """The cluster Karpenter provisions nodes for, as its nodes must join it."""

    cluster_name: str
    location: str
    subscription_id: pulumi.Input[str]
    resource_group_name: pulumi.Input[str]
    """The cluster's resource group (Karpenter's identity lives there)."""
    node_resource_group: pulumi.Input[str]
    """The resource group AKS keeps nodes in, where Karpenter creates VMs."""
    oidc_issuer_url: pulumi.Input[str]
    cluster_endpoint: pulumi.Input[str]
    """https://<API server FQDN>:443."""
    node_subnet_id: pulumi.Input[str]
    vnet_guid: pulumi.Input[str]
    kubelet_identity_resource_id: pulumi.Input[str]
    kubelet_identity_client_id: pulumi.Input[str]
    network: ClusterNetwork
    """The cluster's own network settings: Karpenter's nodes must join the same way."""
    labels: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)


class Karpenter(pulumi.ComponentResource):
    """Azure Karpenter's controller, its identity and what its nodes join with.

    The Kubernetes provider comes through `opts` (`providers=[provider]`)."""

    identity: WorkloadIdentity
    release: k8s.helm.v3.Release

    def __init__(self, name: str, args: KarpenterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kaito-aks:karpenter:Karpenter", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        node_group_id = pulumi.Output.concat(
            "/subscriptions/", args.subscription_id, "/resourceGroups/", args.node_resource_group
        )
        self.identity = WorkloadIdentity(
            f"{name}-identity",
            WorkloadIdentityArgs(
                identity_name=f"id-{args.cluster_name}-karpenter",
                resource_group_name=args.resource_group_name,
                location=args.location,
                oidc_issuer_url=args.oidc_issuer_url,
                namespace=NAMESPACE,
                service_account=SERVICE_ACCOUNT,
                roles=[
                    RoleGrant("Virtual Machine Contributor", node_group_id, "node-resource-group"),
                    RoleGrant("Network Contributor", node_group_id, "node-resource-group"),
                    RoleGrant("Managed Identity Operator", node_group_id, "node-resource-group"),
                    RoleGrant("Network Contributor", args.node_subnet_id, "node-subnet"),
                ],
                tags=args.tags,
            ),
            opts=child,
        )

        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=NAMESPACE, labels=dict(args.labels)),
            opts=child,
        )

        # The token's two parts, lower-case letters and digits: ^[a-z0-9]{6}$ and ^[a-z0-9]{16}$.
        token_id = random.RandomString(
            f"{name}-bootstrap-token-id", length=6, upper=False, special=False, numeric=True, opts=child
        )
        token_secret = random.RandomPassword(
            f"{name}-bootstrap-token-secret", length=16, upper=False, special=False, numeric=True, opts=child
        )
        bootstrap_token = k8s.core.v1.Secret(
            f"{name}-bootstrap-token",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=pulumi.Output.concat("bootstrap-token-", token_id.result),
                namespace="kube-system",
                labels=dict(args.labels),
            ),
            type="bootstrap.kubernetes.io/token",
            string_data={
                "description": "Nodes Karpenter creates for kaito-aks join the cluster with this token.",
                "token-id": token_id.result,
                "token-secret": token_secret.result,
                "usage-bootstrap-authentication": "true",
                "auth-extra-groups": BOOTSTRAP_GROUP,
            },
            opts=child,
        )
        bindings = [
            k8s.rbac.v1.ClusterRoleBinding(
                f"{name}-{purpose}",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=f"kaito-aks-karpenter-{purpose}", labels=dict(args.labels)),
                role_ref=k8s.rbac.v1.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=role),
                subjects=[k8s.rbac.v1.SubjectArgs(api_group="rbac.authorization.k8s.io", kind="Group",
                                                  name=BOOTSTRAP_GROUP)],
                opts=child,
            )
            for purpose, role in BOOTSTRAP_ROLES.items()
        ]
        controller_token = k8s.core.v1.Secret(
            f"{name}-controller-token",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=TOKEN_SECRET, namespace=namespace.metadata.name,
                                                labels=dict(args.labels)),
            type="Opaque",
            string_data={
                "KUBELET_BOOTSTRAP_TOKEN": pulumi.Output.secret(
                    pulumi.Output.concat(token_id.result, ".", token_secret.result)
                ),
            },
            opts=child,
        )
        ssh_key = tls.PrivateKey(f"{name}-node-ssh-key", algorithm="RSA", rsa_bits=4096, opts=child)

        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name="karpenter",
            chart=CHART,
            version=CHART_VERSION,
            namespace=namespace.metadata.name,
            values=karpenter_values(
                args,
                client_id=self.identity.client_id,
                ssh_public_key=ssh_key.public_key_openssh,
                token_id=token_id.result,
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                # Its first pod must already get an Azure token and find its bootstrap token.
                depends_on=[
                    self.identity.federated_credential, *self.identity.role_assignments,
                    bootstrap_token, controller_token, *bindings,
                ],
            ),
        )
        self.register_outputs({"clientId": self.identity.client_id, "status": self.release.status})


def karpenter_values(
    args: KarpenterArgs, *, client_id: pulumi.Input[str], ssh_public_key: pulumi.Input[str],
    token_id: pulumi.Input[str],
) -> dict[str, Any]:
    """The chart values: the env the controller reads (pkg/operator/options/options.go at v1.12.0) as
    karpenter-values-template.yaml at v1.12.0 sets it, the cluster's name and endpoint through the
    chart's own settings, and KAITO's controller resources."""
    network = args.network
    env = {
        # One replica without leader election, as the template runs it: the system pool may be a
        # single node, where two replicas with the chart's required anti-affinity cannot both run.
        "DISABLE_LEADER_ELECTION": "true",
        "SSH_PUBLIC_KEY": pulumi.Output.from_input(ssh_public_key).apply(lambda key: f"{key.strip()} azureuser"),
        "NETWORK_PLUGIN": network.plugin,
        "NETWORK_PLUGIN_MODE": network.plugin_mode,
        "NETWORK_POLICY": network.policy,
        "NETWORK_DATAPLANE": network.dataplane,
        "VNET_SUBNET_ID": args.node_subnet_id,
        "VNET_GUID": args.vnet_guid,
        "NODE_IDENTITIES": args.kubelet_identity_resource_id,
        "AZURE_SUBSCRIPTION_ID": args.subscription_id,
        "LOCATION": args.location,
        "KUBELET_IDENTITY_CLIENT_ID": args.kubelet_identity_client_id,
        "AZURE_NODE_RESOURCE_GROUP": args.node_resource_group,
        "ARM_RESOURCE_GROUP": args.resource_group_name,
        "PROVISION_MODE": "aksscriptless",
        "USE_SIG": "false",
        "ENABLE_AZURE_SDK_LOGGING": "false",
    }
    return {
        "replicas": 1,
        "serviceAccount": {"name": SERVICE_ACCOUNT, "annotations": {"azure.workload.identity/client-id": client_id}},
        "podLabels": {"azure.workload.identity/use": "true"},
        # The controller reads its token once, at start: a new token (the public id changes with it)
        # rolls the pod.
        "podAnnotations": {"kaito-aks/bootstrap-token-id": token_id},
        "settings": {
            "clusterName": args.cluster_name,
            "clusterEndpoint": args.cluster_endpoint,
            "featureGates": {"staticCapacity": True},
        },
        "controller": {
            "env": [{"name": key, "value": value} for key, value in env.items()],
            "envFrom": [{"secretRef": {"name": TOKEN_SECRET}}],
            "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        },
    }
