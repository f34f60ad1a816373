"""BlobModelWeights: the models' weights in an Azure Blob container of the stack's, mirrored once and streamed from
it (kaito-aks:modelWeights blob, upstream KAITO 0.12 only).

KAITO 0.12's mechanism, behind its ModelMirror and ModelStreaming feature gates (kaito-project/kaito@v0.12.0:
website/docs/model-mirror-streaming.md): a cluster-scoped ModelMirror per model downloads the Hugging Face weights
once into a Blob-backed PersistentVolumeClaim (a download Job), and every vLLM pod of that model then streams them
from `az://<container>/<model id>` with the Run:ai streamer, signed in through workload identity. KAITO reads the
account and container from the bound PersistentVolume's volumeHandle (`<rg>#<account>#<container>#...`,
pkg/workspace/inference/modelstreaming/azure/wiblob.go).

What kaito-aks does differently from the upstream guide, for least privilege (each identity one role on the one
container, no storage account key anywhere):
- its own storage account (or one you name) and a fixed container, instead of an account the CSI driver creates in
  the node resource group with the kubelet identity reading that whole group;
- a statically provisioned PersistentVolume per model, pre-bound to the claim KAITO's mirror controller creates
  (named like the ModelMirror, in its jobNamespace: pkg/modelmirror/controllers/modelmirror_controller.go), so no
  CSI controller creates anything and needs no role on the account; the download Job mounts it with blobfuse2
  signed in by its own service account's token (`mountWithWorkloadIdentityToken`, kubernetes-sigs/blob-csi-driver@
  v1.27.6:docs/workload-identity-static-pv-mount.md, Preview), as a writer identity with Storage Blob Data
  Contributor on the container;
- the ModelMirror made by kaito-aks, before the Workspace: KAITO reuses an existing one (workspace_controller.go
  ensureModelMirror), so the download runs in a namespace of its own as the writer, while the model's pods stream
  as `kaito-model-streamer`, a reader identity with Storage Blob Data Reader on the container. In KAITO's own
  mirror both would be one service account, so the model's pods could write.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
from pulumi_azure_native import storage

from components.identity import RoleGrant, WorkloadIdentity, WorkloadIdentityArgs
from components.kubernetes import deny_all_ingress_spec, inherited_dependencies
from components.workspace import STREAMING_SERVICE_ACCOUNT, pod_security_labels

MODEL_MIRROR_API_VERSION = "kaito.sh/v1alpha1"
BLOB_CSI_DRIVER = "blob.csi.azure.com"
CONTAINER = "models"
STORAGE_CLASS = "kaito-aks-weights"
# The writer's namespace and account, kaito-aks's own (the model's pods stream as STREAMING_SERVICE_ACCOUNT).
MIRROR_NAMESPACE = "kaito-weights"
WRITER_SERVICE_ACCOUNT = "weights-writer"
HF_TOKEN_SECRET = "hf-token"
# On each ModelMirror: the name of the volume made for it.
VOLUME_ANNOTATION = "kaito-aks/volume"
# KAITO's catalog sizes a model's mirror as its weights plus 80 GiB of system files (kaito-project/kaito@v0.12.0:
# presets/workspace/generator/generator.go calculateStorageSize, SystemFileDiskSizeGiB).
SYSTEM_FILES_GIB = 80
# The blobfuse2 mount options of KAITO's guide (model-mirror-streaming.md, Step 2), for writing: only the download
# Job mounts the volume (the model's pods stream over HTTPS), so its block cache is 2 GiB of the node's memory, not
# the guide's 8 GiB of read-ahead for streaming reads, beside the system pool's other work.
MOUNT_OPTIONS = [
    "-o allow_other", "-o attr_timeout=120", "-o entry_timeout=120", "-o negative_timeout=120",
    "--cancel-list-on-mount-seconds=10", "--use-attr-cache=true", "--block-cache", "--block-cache-block-size=16",
    "--block-cache-pool-size=2048",
]
# The download Job's CPU and memory (request = limit): KAITO's default, 3 CPU and 8 GiB (kaito-project/kaito@v0.12.0:
# pkg/modelmirror/consts/consts.go), does not fit beside the cluster's services on the default system node (4 vCPU,
# 16 GiB), and the Job tolerates no GPU node's taint (pkg/modelmirror/download/job.go). What KAITO's own CI runs it
# with (.github/actions/e2e-base-setup/action.yaml).
DOWNLOAD_CPU = "2"
DOWNLOAD_MEMORY = "4Gi"


@dataclass(frozen=True)
class MirroredModel:
    """A model whose weights are mirrored: its Hugging Face id and the space they take."""

    model_id: str
    size_gib: int


@dataclass(frozen=True)
class BlobModelWeightsArgs:
    cluster_name: str
    resource_group_name: pulumi.Input[str]
    location: str
    oidc_issuer_url: pulumi.Input[str]
    model_namespace: str
    """The Workspaces' namespace, where the model's pods stream as STREAMING_SERVICE_ACCOUNT (the KaitoWorkspace
    that creates the namespace creates that account, with `reader_client_id`)."""
    models: Sequence[MirroredModel]
    node_subnet_id: pulumi.Input[str] | None = None
    """The nodes' subnet (with its Microsoft.Storage service endpoint), the only network the stack's account admits;
    None (AKS's own network): any network, still with Entra ID sign-in only."""
    existing_account_id: str | None = None
    """An existing storage account (its ARM ID) to hold the container; None: the stack creates one."""
    hf_token: pulumi.Input[str] | None = None
    """For gated or private models: the download Job reads it from a Secret in its own namespace."""
    labels: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)


class BlobModelWeights(pulumi.ComponentResource):
    """Storage, the two identities, and per model a PersistentVolume and a ModelMirror. The Kubernetes provider comes
    through `opts`; Azure resources use the default provider."""

    container_url: pulumi.Output[str]
    reader_client_id: pulumi.Output[str]
    """For the model namespace's STREAMING_SERVICE_ACCOUNT (azure.workload.identity/client-id)."""
    mirrors: list[pulumi.Resource]
    """What a Workspace waits for: its model's ModelMirror must exist first, or KAITO makes its own."""

    def __init__(self, name: str, args: BlobModelWeightsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kaito-aks:model_weights:BlobModelWeights", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        after = inherited_dependencies(opts)
        tags = dict(args.tags)

        if args.existing_account_id is None:
            suffix = random.RandomString(
                f"{name}-account-suffix", length=12, special=False, upper=False, numeric=True,
                # Kept in state: storage account names are global, so a stack's name alone would collide.
                opts=child,
            )
            account = storage.StorageAccount(
                f"{name}-account",
                account_name=suffix.result.apply(lambda text: f"kaitow{text}"),
                resource_group_name=args.resource_group_name,
                location=args.location,
                kind=storage.Kind.STORAGE_V2,
                sku=storage.SkuArgs(name=storage.SkuName.STANDARD_LRS),
                # Entra ID only: no account key, no SAS signed with one, no anonymous read.
                allow_shared_key_access=False,
                default_to_o_auth_authentication=True,
                allow_blob_public_access=False,
                enable_https_traffic_only=True,
                minimum_tls_version=storage.MinimumTlsVersion.TLS1_2,
                # The nodes (blobfuse2 for the download, the streamer in the model's pods, behind the nodes'
                # addresses) reach it through their subnet's service endpoint; ARM (Pulumi, the container) is not
                # behind this firewall.
                network_rule_set=storage.NetworkRuleSetArgs(
                    default_action=storage.DefaultAction.DENY,
                    bypass=storage.Bypass.AZURE_SERVICES,
                    virtual_network_rules=[storage.VirtualNetworkRuleArgs(virtual_network_resource_id=args.node_subnet_id)],
                ) if args.node_subnet_id is not None else None,
                tags=tags,
                opts=child,
            )
            account_id: pulumi.Output[str] = account.id
            account_name: pulumi.Output[str] = account.name
            account_group: pulumi.Input[str] = args.resource_group_name
        else:
            parts = storage_account_parts(args.existing_account_id)
            account_id = pulumi.Output.from_input(args.existing_account_id)
            account_name = pulumi.Output.from_input(parts["account"])
            account_group = parts["resource_group"]
        container = storage.BlobContainer(
            f"{name}-container",
            account_name=account_name,
            resource_group_name=account_group,
            container_name=CONTAINER,
            public_access=storage.PublicAccess.NONE,
            opts=child,
        )
        container_scope = pulumi.Output.concat(account_id, "/blobServices/default/containers/", container.name)

        def identity(role: str, key: str, namespace: str, service_account: str) -> WorkloadIdentity:
            return WorkloadIdentity(
                f"{name}-{key}",
                WorkloadIdentityArgs(
                    identity_name=f"id-{args.cluster_name}-weights-{key}",
                    resource_group_name=args.resource_group_name,
                    location=args.location,
                    oidc_issuer_url=args.oidc_issuer_url,
                    namespace=namespace,
                    service_account=service_account,
                    roles=[RoleGrant(role, container_scope, "container")],
                    tags=tags,
                ),
                opts=child,
            )

        writer = identity("Storage Blob Data Contributor", "writer", MIRROR_NAMESPACE, WRITER_SERVICE_ACCOUNT)
        reader = identity("Storage Blob Data Reader", "reader", args.model_namespace, STREAMING_SERVICE_ACCOUNT)

        on_cluster = pulumi.ResourceOptions(parent=self, depends_on=after)
        labels = dict(args.labels)
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            # KAITO's download Job sets no securityContext (kaito-project/kaito@v0.12.0:pkg/modelmirror/download/
            # job.go): baseline, like the model's namespace.
            metadata=k8s.meta.v1.ObjectMetaArgs(name=MIRROR_NAMESPACE, labels={**labels,
                                                                            **pod_security_labels("baseline")}),
            opts=on_cluster,
        )
        in_namespace = pulumi.ResourceOptions(parent=self, depends_on=[namespace, *after])
        k8s.networking.v1.NetworkPolicy(
            f"{name}-default-deny-ingress",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="default-deny-ingress", namespace=MIRROR_NAMESPACE,
                                                labels=labels),
            spec=deny_all_ingress_spec(), opts=in_namespace,
        )
        writer_account = k8s.core.v1.ServiceAccount(
            f"{name}-writer-service-account",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=WRITER_SERVICE_ACCOUNT, namespace=MIRROR_NAMESPACE, labels=labels,
                annotations={"azure.workload.identity/client-id": writer.client_id}),
            # The Job's pod gets no API token; blobfuse2's token is requested by the CSI driver (tokenRequests).
            automount_service_account_token=False,
            opts=in_namespace,
        )
        ready: list[pulumi.Resource] = [writer_account, writer.federated_credential, *writer.role_assignments,
                                        reader.federated_credential, *reader.role_assignments]
        access_secret = None
        if args.hf_token is not None:
            ready.append(k8s.core.v1.Secret(
                f"{name}-hf-token",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=HF_TOKEN_SECRET, namespace=MIRROR_NAMESPACE, labels=labels),
                type="Opaque",
                string_data={"HF_TOKEN": pulumi.Output.secret(args.hf_token)},
                opts=in_namespace,
            ))
            # The Job reads it by name from its own namespace (job.go: a LocalObjectReference).
            access_secret = {"name": HF_TOKEN_SECRET, "namespace": MIRROR_NAMESPACE}
        storage_class = k8s.storage.v1.StorageClass(
            f"{name}-storage-class",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=STORAGE_CLASS, labels=labels),
            provisioner=BLOB_CSI_DRIVER,
            parameters=blob_parameters(account_name, account_group, writer.client_id),
            # Every mirror's volume is the one shared container: never delete it with a claim.
            reclaim_policy="Retain",
            mount_options=MOUNT_OPTIONS,
            opts=on_cluster,
        )

        self.mirrors = []
        for model in args.models:
            mirror = mirror_name(model.model_id)
            spec = model_mirror_spec(model, access_secret)
            # A volume binds once: KAITO deletes a mirror's claim with the mirror, leaving the volume Released, and a
            # volume's CSI source cannot change. So a volume is named after everything it and its mirror hold, a
            # change to either makes a new one, and the mirror (annotated with its volume's name) is replaced with
            # it, so that KAITO's new claim binds the new volume.
            parts = pulumi.Output.all(account_name, account_group, writer.client_id)
            volume_id = parts.apply(lambda values, mirror=mirror, spec=spec: volume_name(mirror, spec, *values))
            volume = k8s.core.v1.PersistentVolume(
                f"{name}-volume-{mirror}",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=volume_id, labels=labels),
                spec=pulumi.Output.all(parts, volume_id).apply(
                    lambda values, mirror=mirror, size=model.size_gib: volume_spec(*values[0], mirror, values[1],
                                                                                   size)),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[storage_class, *after]),
            )
            self.mirrors.append(k8s.apiextensions.CustomResource(
                f"{name}-mirror-{mirror}",
                api_version=MODEL_MIRROR_API_VERSION, kind="ModelMirror",
                metadata={"name": mirror, "labels": labels, "annotations": {VOLUME_ANNOTATION: volume_id}},
                spec=spec,
                # KAITO refuses any change to a mirror's spec (api/v1alpha1/modelmirror_validation.go).
                opts=pulumi.ResourceOptions(parent=self, depends_on=[volume, storage_class, *ready, *after],
                                            replace_on_changes=["spec", f"metadata.annotations.{VOLUME_ANNOTATION}"],
                                            delete_before_replace=True),
            ))

        self.container_url = pulumi.Output.concat("https://", account_name, ".blob.core.windows.net/", CONTAINER)
        self.reader_client_id = reader.client_id
        self.register_outputs({"containerUrl": self.container_url, "readerClientId": self.reader_client_id})


def mirror_name(model_id: str) -> str:
    """KAITO's name for a model's ModelMirror, and for its claim: the first 6 hex digits of the id's SHA-256
    (kaito-project/kaito@v0.12.0:pkg/workspace/inference/modelstreaming/modelstreaming.go ModelMirrorCRName). An
    upstream preset's name is its Hugging Face id (pkg/utils/plugin/plugin.go ResolveHFModelID)."""
    return hashlib.sha256(model_id.encode()).hexdigest()[:6]


def blob_parameters(account: str | pulumi.Output[str], resource_group: pulumi.Input[str],
                    writer_client_id: pulumi.Input[str]) -> dict[str, Any]:
    """blobfuse2 on the account's container, mounted with the writer's token, no key (kubernetes-sigs/
    blob-csi-driver@v1.27.6:docs/driver-parameters.md, docs/workload-identity-static-pv-mount.md)."""
    return {"protocol": "fuse2", "storageAccount": account, "resourceGroup": resource_group,
            "containerName": CONTAINER, "clientID": writer_client_id, "mountWithWorkloadIdentityToken": "true"}


def volume_name(mirror: str, spec: Mapping[str, Any], account: str, resource_group: str,
                writer_client_id: str) -> str:
    """The mirror's volume, named after the mirror, its spec and the volume's source."""
    held = json.dumps([spec, account, resource_group, writer_client_id], sort_keys=True)
    return f"kaito-weights-{mirror}-{hashlib.sha256(held.encode()).hexdigest()[:6]}"


def volume_spec(account: str, resource_group: str, writer_client_id: str, mirror: str, volume: str,
                size_gib: int) -> dict:
    """A PersistentVolume on the container, bound ahead to the claim KAITO's mirror controller makes (its name and
    namespace: the mirror's, modelmirror_controller.go). Its handle is unique per mirror and starts
    `<rg>#<account>#<container>#`, where KAITO reads the account and the container (wiblob.go)."""
    return {
        "capacity": {"storage": f"{size_gib}Gi"},
        "accessModes": ["ReadWriteMany"],
        "persistentVolumeReclaimPolicy": "Retain",
        "storageClassName": STORAGE_CLASS,
        "mountOptions": MOUNT_OPTIONS,
        "claimRef": {"namespace": MIRROR_NAMESPACE, "name": mirror},
        "csi": {
            "driver": BLOB_CSI_DRIVER,
            "volumeHandle": f"{resource_group}#{account}#{CONTAINER}#{volume}",
            "volumeAttributes": blob_parameters(account, resource_group, writer_client_id),
        },
    }


def model_mirror_spec(model: MirroredModel, access_secret: Mapping[str, str] | None) -> dict[str, Any]:
    """A managed mirror as KAITO would make it for the Workspace (workspace_controller.go ensureModelMirror), but
    downloading in kaito-aks's own namespace as the writer."""
    source: dict[str, Any] = {"registry": "huggingface", "modelID": model.model_id}
    if access_secret is not None:
        source["accessSecret"] = dict(access_secret)
    return {
        "mode": "Managed",
        "source": source,
        "storage": {"size": f"{model.size_gib}Gi", "storageClassName": STORAGE_CLASS},
        "jobNamespace": MIRROR_NAMESPACE,
        "serviceAccountName": WRITER_SERVICE_ACCOUNT,
    }


def storage_account_parts(arm_id: str) -> dict[str, str]:
    """/subscriptions/<s>/resourceGroups/<rg>/providers/Microsoft.Storage/storageAccounts/<name> -> its parts."""
    parts = arm_id.strip("/").split("/")
    return {"subscription": parts[1], "resource_group": parts[3], "account": parts[7]}
