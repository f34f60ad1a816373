"""KaitoWorkspace: a namespace, a kaito.sh/v1beta1 Workspace that serves one model, and its endpoint."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes import deny_all_ingress_spec, inherited_dependencies

WORKSPACE_API_VERSION = "kaito.sh/v1beta1"
# What KAITO's validating webhook refuses to change on an existing Workspace, or accepts but never
# applies; the same rules at the add-on's v0.6.0 and upstream v0.12.0. A change to any of these must
# delete the Workspace and create it again. The source of each, read at both tags:
IMMUTABLE_FIELDS: dict[str, str] = {
    "resource.instanceType": "refused: ResourceSpec.validateUpdate, kaito-project/kaito@v0.6.0 and "
                             "@v0.12.0:api/v1beta1/workspace_validation.go ('field is immutable')",
    "resource.count": "refused once set: ResourceSpec.validateUpdate, same files ('We disable changing node count')",
    "resource.labelSelector": "refused: ResourceSpec.validateUpdate compares matchLabels, same files",
    "inference.preset": "refused: InferenceSpec.validateUpdate compares the whole preset with reflect.DeepEqual, "
                        "presetOptions.modelAccessSecret included, same files",
    "inference.template": "accepted but never applied: kaito-project/kaito@v0.12.0:pkg/workspace/inference/"
                          "template_inference.go creates the pods once (IgnoreAlreadyExists) and "
                          "pkg/workspace/controllers/workspace_controller.go says 'TODO: handle update'; "
                          "switching between preset and template is refused",
}
# Pulumi replaces a resource when a changed property lies under a replaceOnChanges path
# (pulumi/pulumi@1a16857a:pkg/resource/deploy/step_generator.go applyReplaceOnChanges, with
# PropertyPath.Contains). Everything kaito-aks sets under `resource` and `inference` is in
# IMMUTABLE_FIELDS (tests/test_changes.py keeps it so), so the two parents cover them whether the
# provider reports the nested path or only the top-level key.
REPLACE_ON_CHANGES = sorted({path.split(".")[0] for path in IMMUTABLE_FIELDS})
# KAITO creates a Service named like the Workspace, port 80 -> 5000, in the Workspace's namespace.
SERVICE_PORT = 80
MODEL_PORT = 5000
HF_TOKEN_KEY = "HF_TOKEN"
# KAITO's documented streaming service account (kaito-project/kaito@v0.12.0:website/docs/model-mirror-streaming.md).
STREAMING_SERVICE_ACCOUNT = "kaito-model-streamer"


INFERENCE_SET_API_VERSION = "kaito.sh/v1beta1"
# The label KAITO 0.12 puts on an InferenceSet's Workspaces and on their pods (kaito-project/kaito@v0.12.0:
# pkg/utils/inferenceset/inferenceset.go NewWorkspaceForInferenceSet; pkg/workspace/manifests/manifests.go copies it
# into the StatefulSet's pod labels).
CREATED_BY_LABEL = "inferenceset.kaito.sh/created-by"
# Each copy is a StatefulSet whose pod 0 serves (KAITO's own Service selects <workspace>-0, manifests.go
# GenerateServiceManifest); Kubernetes labels every StatefulSet pod with its index (PodIndexLabel, GA in 1.32).
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
# An InferenceSet accepts changes to its template but does not roll them out to the Workspaces it already has
# (kaito-project/kaito@v0.12.0:api/v1beta1/inferenceset_validation.go only refuses template.resource.partition;
# website/docs/inference.md: it "does not currently perform an in-place rolling update of existing replicas when
# you edit other spec.template fields"): replace it on those.
INFERENCE_SET_REPLACE_ON_CHANGES = ["spec.template", "spec.labelSelector"]
# keda-kaito-scaler 0.6.x reads these annotations on an InferenceSet and makes the KEDA ScaledObject itself
# (kaito-project/keda-kaito-scaler@v0.6.2:pkg/constants/constants.go, README.md "single metric" example). The
# metricName/threshold annotations in KAITO 0.12's docs are the 0.5 scaler's and are ignored by 0.6.
SCALER_ANNOTATION_PREFIX = "scaledobject.kaito.sh/"
# Add a copy while more than this many requests wait per copy; remove one when fewer than this wait (the
# scaler's documented example; it moves one copy at a time, at most every 300 s).
WAITING_TO_SCALE_UP = 10
WAITING_TO_SCALE_DOWN = 1


@dataclass(frozen=True)
class ReplicaRange:
    """Several copies of the model: an InferenceSet of Workspaces, each on its own nodes."""

    minimum: int
    maximum: int



@dataclass(frozen=True)
class KaitoWorkspaceArgs:
    """What to serve and where; exactly one of `preset` and `pod_template` is set."""

    workspace_name: str
    """Workspace name (a DNS-1123 label); also the name of the Service KAITO creates."""
    namespace: str
    """Namespace created for the Workspace and everything that talks to it."""
    instance_type: str
    """VM size of the nodes KAITO provisions for the model."""
    node_count: int
    """How many such nodes."""
    preset: str | None = None
    """KAITO preset name, for GPU models."""
    pod_template: Mapping[str, Any] | None = None
    """PodTemplateSpec for `inference.template` (a model KAITO has no preset for)."""
    hf_token: pulumi.Input[str] | None = None
    """Hugging Face token (secret) when the Workspace needs presetOptions.modelAccessSecret; None otherwise."""
    readiness_timeout_minutes: int = 30
    """How long `pulumi up` waits for the Workspace to report WorkspaceSucceeded."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Labels for every object (app.kubernetes.io/* recommended labels)."""
    model_client_labels: Mapping[str, str] | None = None
    """When set, only pods carrying these labels may call the model; None: any pod of the cluster may."""
    extra_model_clients: tuple[dict[str, Any], ...] = ()
    """NetworkPolicy peers that may also call the model (the front door's proxies)."""
    pod_security_enforce: str = "baseline"
    """The Pod Security Standard the namespace enforces: the strictest KAITO's pods for this model pass."""
    paused: bool = False
    """True: no Workspace (the namespace, secret and policy stay), so no GPU node either."""
    gpu_pool_cleanup: pulumi.ResourceHook | None = None
    """An after-delete hook that deletes the GPU pool KAITO made for the Workspace (the add-on leaves it billing);
    made by the caller in every run, paused or not (components/gpu_pool_cleanup.py says why)."""
    replicas: ReplicaRange | None = None
    """Several copies of the model (an InferenceSet and a Service over their pods, scaled by KEDA); None: one
    Workspace."""
    capacity_type: str | None = None
    """Karpenter's capacity type for the model's nodes ("on-demand" or "spot"); None where the node provisioner
    cannot choose (gpu-provisioner creates regular pools only)."""
    streaming_client_id: pulumi.Input[str] | None = None
    """With weights streamed from Blob (components/model_weights.py): the reader identity the namespace's
    STREAMING_SERVICE_ACCOUNT signs in as; made by the KaitoWorkspace that creates the namespace."""
    existing_namespace: pulumi.Output[str] | None = None
    """`namespace` as another KaitoWorkspace of the stack created it (its first model's `namespace` output, through
    which this one's objects wait for it): this one adds only its own model's objects. None: create the namespace."""


class KaitoWorkspace(pulumi.ComponentResource):
    """A KAITO Workspace that `pulumi up` waits for until the model is really served.

    The Kubernetes provider comes through `opts` (`providers=[provider]`)."""

    namespace: pulumi.Output[str]
    """The namespace holding the Workspace and its Service."""
    workspace_name: pulumi.Output[str]
    """The Workspace's name, also its Service's name."""
    inference_endpoint: pulumi.Output[str]
    """In-cluster OpenAI-compatible base URL, ending in /v1."""
    model_pods: dict[str, str]
    """Labels of the model's pods (the NetworkPolicy destination of its clients)."""
    model_nodes: dict[str, str]
    """Labels of the nodes KAITO makes for the model."""
    model_service: str
    """The Service clients call: KAITO's for one Workspace, kaito-aks's over every copy of an InferenceSet."""

    def __init__(self, name: str, args: KaitoWorkspaceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kaito-aks:workspace:KaitoWorkspace", name, {}, opts)
        # With upstream KAITO the component waits for its Helm charts (CRD and webhook).
        after = inherited_dependencies(opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=after)

        depends_on: list[pulumi.Resource] = list(after)
        if args.existing_namespace is not None:
            namespace_name = args.existing_namespace
        else:
            namespace = k8s.core.v1.Namespace(
                f"{name}-ns",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=args.namespace, labels={**args.labels, **pod_security_labels(args.pod_security_enforce)}
                ),
                opts=child,
            )
            # Nothing reaches a pod here unless a policy says so: each model's policy below, the demo app's own.
            k8s.networking.v1.NetworkPolicy(
                f"{name}-default-deny-ingress",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name="default-deny-ingress", namespace=namespace.metadata.name, labels=dict(args.labels)
                ),
                spec=deny_all_ingress_spec(),
                opts=child,
            )
            namespace_name = namespace.metadata.name
            depends_on.insert(0, namespace)
        self.streaming_account: pulumi.Resource | None = None
        if args.streaming_client_id is not None and args.existing_namespace is None:
            # KAITO runs every streaming vLLM pod of the namespace as this account and checks its client-id
            # annotation (kaito-project/kaito@v0.12.0:pkg/workspace/inference/modelstreaming/azure/auth.go).
            self.streaming_account = k8s.core.v1.ServiceAccount(
                f"{name}-streaming-service-account",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=STREAMING_SERVICE_ACCOUNT, namespace=namespace_name, labels=dict(args.labels),
                    annotations={"azure.workload.identity/client-id": args.streaming_client_id}),
                # The Run:ai streamer needs an Azure token (projected by the workload identity webhook), not an API
                # token.
                automount_service_account_token=False,
                opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
            )
            depends_on.append(self.streaming_account)
        access_secret_name: str | None = None
        if args.hf_token is not None:
            access_secret_name = f"{args.workspace_name}-hf-token"
            secret = k8s.core.v1.Secret(
                f"{name}-hf-token",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=access_secret_name, namespace=namespace_name, labels=dict(args.labels)
                ),
                type="Opaque",
                string_data={HF_TOKEN_KEY: pulumi.Output.secret(args.hf_token)},
                opts=child,
            )
            depends_on.append(secret)

        self.workspace: pulumi.CustomResource | None = None
        if not args.paused and args.replicas is not None:
            self.workspace = self._inference_set(name, args, access_secret_name, namespace_name, depends_on, child)
        elif not args.paused:
            timeout_seconds = args.readiness_timeout_minutes * 60
            manifest = workspace_manifest(args, access_secret_name, timeout_seconds)
            timeout = f"{args.readiness_timeout_minutes}m"
            hooks = None
            if args.gpu_pool_cleanup is not None:
                hooks = pulumi.ResourceHookBinding(after_delete=[args.gpu_pool_cleanup])
            self.workspace = pulumi.CustomResource(
                f"kubernetes:{WORKSPACE_API_VERSION}:Workspace",
                f"{name}-workspace",
                # Workspace has no `spec`: `resource` and `inference` sit at the top level, which
                # pulumi_kubernetes' CustomResource class cannot express (pulumi-kubernetes#2363).
                props={**manifest, "metadata": {**manifest["metadata"], "namespace": namespace_name}},
                opts=pulumi.ResourceOptions(
                    parent=self,
                    depends_on=depends_on,
                    # A change KAITO will not take means a new Workspace; the old one must go first
                    # because both carry the same name (and the same Service name).
                    replace_on_changes=REPLACE_ON_CHANGES,
                    delete_before_replace=True,
                    custom_timeouts=pulumi.CustomTimeouts(create=timeout, update=timeout),
                    hooks=hooks,
                ),
            )

        k8s.networking.v1.NetworkPolicy(
            f"{name}-model-access",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=f"{args.workspace_name}-model-access", namespace=namespace_name,
                labels=dict(args.labels),
            ),
            spec=model_access_policy_spec(model_pod_labels(args.workspace_name, replicated=args.replicas is not None),
                                          args.model_client_labels, args.extra_model_clients),
            opts=child,
        )

        self.namespace = namespace_name
        self.model_pods = model_pod_labels(args.workspace_name, replicated=args.replicas is not None)
        self.model_nodes = model_node_labels(args.workspace_name)
        self.workspace_name = (
            self.workspace.metadata.apply(lambda m: m["name"])  # type: ignore[attr-defined]
            if self.workspace is not None
            else pulumi.Output.from_input(args.workspace_name)
        )
        self.model_service = model_service_name(args.workspace_name, replicated=args.replicas is not None)
        self.inference_endpoint = self.namespace.apply(
            lambda namespace: inference_endpoint(self.model_service, namespace))
        self.register_outputs(
            {
                "namespace": self.namespace,
                "workspaceName": self.workspace_name,
                "inferenceEndpoint": self.inference_endpoint,
            }
        )


    def _inference_set(self, name: str, args: KaitoWorkspaceArgs, access_secret_name: str | None,
                       namespace: pulumi.Output[str], depends_on: list[pulumi.Resource],
                       child: pulumi.ResourceOptions) -> pulumi.CustomResource:
        """The copies as an InferenceSet, and one Service over the serving pod of each."""
        assert args.replicas is not None
        timeout = f"{args.readiness_timeout_minutes}m"
        manifest = inference_set_manifest(args, access_secret_name, args.readiness_timeout_minutes * 60)
        inference_set = pulumi.CustomResource(
            f"kubernetes:{INFERENCE_SET_API_VERSION}:InferenceSet",
            f"{name}-inference-set",
            props={**manifest, "metadata": {**manifest["metadata"], "namespace": namespace}},
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=depends_on, replace_on_changes=INFERENCE_SET_REPLACE_ON_CHANGES,
                delete_before_replace=True, custom_timeouts=pulumi.CustomTimeouts(create=timeout, update=timeout),
            ),
        )
        k8s.core.v1.Service(
            f"{name}-replicas",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=model_service_name(args.workspace_name, replicated=True),
                namespace=namespace, labels=dict(args.labels),
            ),
            spec=replicas_service_spec(args.workspace_name),
            opts=child,
        )
        return inference_set


def inference_set_manifest(args: KaitoWorkspaceArgs, access_secret_name: str | None,
                           timeout_seconds: int) -> dict[str, Any]:
    """The InferenceSet as KAITO 0.12's CRD expects it (validated against its schema in tests)."""
    assert args.replicas is not None
    workspace = workspace_manifest(args, access_secret_name, timeout_seconds)
    annotations = {
        # KAITO sets InferenceSetReady when every wanted copy is ready (kaito-project/kaito@v0.12.0:pkg/inferenceset/
        # inferenceset_controller.go).
        "pulumi.com/waitFor": "condition=InferenceSetReady",
        "pulumi.com/timeoutSeconds": str(timeout_seconds),
    }
    # KEDA owns spec.replicas through the /scale subresource, also for a fixed number of copies (minReplicas =
    # maxReplicas: the scaler's HPA then holds it there). kaito-aks never sets it: under server-side apply a value
    # it sent would fight KEDA's, and dropping it later would reset it to the CRD's default of 1, taking copies
    # away. The InferenceSet starts at that default, 1, and KEDA brings it to minReplicas.
    annotations.update({
        f"{SCALER_ANNOTATION_PREFIX}auto-provision": "true",
        f"{SCALER_ANNOTATION_PREFIX}min-replicas": str(args.replicas.minimum),
        f"{SCALER_ANNOTATION_PREFIX}max-replicas": str(args.replicas.maximum),
        f"{SCALER_ANNOTATION_PREFIX}metrics": (
            "- name: vllm:num_requests_waiting\n  type: gauge\n"
            f"  upthreshold: {WAITING_TO_SCALE_UP}\n  downthreshold: {WAITING_TO_SCALE_DOWN}\n"
        ),
    })
    spec: dict[str, Any] = {
        "labelSelector": workspace["resource"]["labelSelector"],
        "template": {"resource": {"instanceType": args.instance_type}, "inference": workspace["inference"]},
    }
    return {
        "apiVersion": INFERENCE_SET_API_VERSION,
        "kind": "InferenceSet",
        "metadata": {"name": args.workspace_name, "namespace": args.namespace, "labels": dict(args.labels),
                     "annotations": annotations},
        "spec": spec,
    }


def replicas_service_spec(workspace_name: str) -> dict[str, Any]:
    """One address for every copy: the serving pod (index 0) of each of the InferenceSet's Workspaces, port 80 to
    5000 as KAITO's per-Workspace Services have it."""
    return {
        "selector": {CREATED_BY_LABEL: workspace_name, POD_INDEX_LABEL: "0"},
        "ports": [{"name": "http", "port": SERVICE_PORT, "targetPort": MODEL_PORT, "protocol": "TCP"}],
    }


def model_service_name(workspace_name: str, replicated: bool) -> str:
    """KAITO's Service for one Workspace has its name; for copies, kaito-aks's own Service, which must not take the
    name while an old Workspace (and its Service) is still being replaced."""
    return f"{workspace_name[:54]}-replicas" if replicated else workspace_name


def workspace_manifest(
    args: KaitoWorkspaceArgs, access_secret_name: str | None, timeout_seconds: int
) -> dict[str, Any]:
    """The Workspace object as KAITO's CRD expects it (validated against its schema in tests)."""
    if (args.preset is None) == (args.pod_template is None):
        raise ValueError("a Workspace serves either a preset or a pod template, exactly one of them")
    if args.preset is not None:
        preset: dict[str, Any] = {"name": args.preset}
        if access_secret_name is not None:
            preset["presetOptions"] = {"modelAccessSecret": access_secret_name}
        inference: dict[str, Any] = {"preset": preset}
    else:
        inference = {"template": dict(args.pod_template or {})}
    return {
        "apiVersion": WORKSPACE_API_VERSION,
        "kind": "Workspace",
        "metadata": {
            "name": args.workspace_name,
            "namespace": args.namespace,
            "labels": dict(args.labels),
            "annotations": {
                # Without waitFor pulumi-kubernetes reports a custom resource ready as soon as it
                # exists; WorkspaceSucceeded is KAITO's summary of node, resource and inference.
                "pulumi.com/waitFor": "condition=WorkspaceSucceeded",
                "pulumi.com/timeoutSeconds": str(timeout_seconds),
            },
        },
        "resource": {
            "instanceType": args.instance_type,
            "count": args.node_count,
            "labelSelector": {"matchLabels": node_selector_labels(args.workspace_name, args.capacity_type)},
        },
        "inference": inference,
    }


def model_node_labels(workspace_name: str) -> dict[str, str]:
    """The Workspace's labelSelector, which KAITO also puts on the nodes it creates for it (kaito-project/
    kaito@v0.6.0:pkg/utils/nodeclaim/nodeclaim.go, @v0.12.0:pkg/nodeprovision/karpenter/nodepool.go)."""
    return {"apps": workspace_name}


# Karpenter's well-known capacity-type label, which its NodePool allows as a template label (Azure/karpenter-provider-
# azure@v1.12.0:pkg/apis/crds/karpenter.sh_nodepools.yaml, 'label domain "karpenter.sh" is restricted' except it).
CAPACITY_TYPE_LABEL = "karpenter.sh/capacity-type"


def node_selector_labels(workspace_name: str, capacity_type: str | None) -> dict[str, str]:
    """The Workspace's resource.labelSelector: its node labels, plus the capacity type where Karpenter provisions.

    KAITO 0.12 has no capacity-type setting (kaito.sh/capacity-type came after v0.12.0, kaito-project/kaito PR
    #2327), and the NodePool it renders requires only the instance type and regional placement (kaito-project/
    kaito@v0.12.0:pkg/nodeprovision/karpenter/nodepool.go nodePoolRequirements). Azure Karpenter then takes the
    cheapest offering and prefers spot on a tie (Azure/karpenter-provider-azure@v1.12.0:pkg/providers/
    allocationstrategy/stages/offering_rank.go compareOfferings): without a pin the model may land on spot unasked.
    KAITO copies the labelSelector's matchLabels into the NodePool's template labels (nodepool.go generateNodePool,
    SanitizedMatchLabels keeps every key but its own) and into the pods' node affinity, and Karpenter makes a
    template label a requirement, so this pins what Karpenter buys. labelSelector is immutable (IMMUTABLE_FIELDS):
    changing the capacity type replaces the Workspace."""
    labels = model_node_labels(workspace_name)
    if capacity_type is not None:
        labels[CAPACITY_TYPE_LABEL] = capacity_type
    return labels


def model_pod_labels(workspace_name: str, replicated: bool = False) -> dict[str, str]:
    """The label KAITO puts on every pod of a Workspace, preset or template, at v0.6.0 and v0.12.0
    (kaito-project/kaito@v0.6.0 and @v0.12.0:pkg/workspace/manifests/manifests.go, kaito.sh/workspace); for an
    InferenceSet's copies, whose Workspaces get generated names, the InferenceSet's own label."""
    return {CREATED_BY_LABEL: workspace_name} if replicated else {"kaito.sh/workspace": workspace_name}


def model_access_policy_spec(model_pod_selector: Mapping[str, str], client_labels: Mapping[str, str] | None,
                             extra_clients: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    """Who may call the model's port: pods with `client_labels` (None: any pod of the cluster). The model's own
    pods reach each other on every port: a model spanning several nodes runs vLLM on a Ray cluster, whose
    worker ports are random (kaito-project/kaito@v0.12.0:pkg/workspace/inference/preset_inferences.go)."""
    model_pods = {"matchLabels": dict(model_pod_selector)}
    clients: list[dict[str, Any]] = (
        [{"podSelector": {"matchLabels": dict(client_labels)}}, *extra_clients] if client_labels is not None
        else [{"namespaceSelector": {}}]
    )
    return {
        "podSelector": model_pods,
        "policyTypes": ["Ingress"],
        "ingress": [
            {"from": clients, "ports": [{"port": MODEL_PORT, "protocol": "TCP"}]},
            {"from": [{"podSelector": model_pods}]},
        ],
    }


def pod_security_labels(enforce: str) -> dict[str, str]:
    """Pod Security Admission labels: enforce what KAITO's pods pass, warn and audit at restricted.

    KAITO's inference pods set no securityContext and its images run as root, so they pass baseline and fail
    restricted (kaito-project/kaito@v0.6.0 and @v0.12.0:pkg/workspace/inference/preset_inferences.go; base image
    docker/presets/models/tfs/Dockerfile has no USER). kaito-aks's own pods pass restricted."""
    return {
        "pod-security.kubernetes.io/enforce": enforce,
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/warn-version": "latest",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/audit-version": "latest",
    }


def inference_endpoint(workspace_name: str, namespace: str) -> str:
    return f"http://{workspace_name}.{namespace}.svc.cluster.local/v1"
