"""KaitoWorkspace: a namespace, a kaito.sh/v1beta1 Workspace that serves one model, and its endpoint."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

import pulumi
import pulumi_kubernetes as k8s

from components.gpu_pools import GpuPoolCleanup, cleanup_hook
from components.kubernetes import (
    inherited_dependencies,
    resources,
    restricted_container_security_context,
    restricted_pod_security_context,
)

WORKSPACE_API_VERSION = "kaito.sh/v1beta1"
# KAITO creates a Service named like the Workspace, port 80 -> 5000, in the Workspace's namespace.
SERVICE_PORT = 80
MODEL_PORT = 5000
HF_TOKEN_KEY = "HF_TOKEN"


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
    model: str
    """Model id the endpoint serves (the preset name, or the template model's alias)."""
    preset: Optional[str] = None
    """KAITO preset name, for GPU models."""
    pod_template: Optional[Mapping[str, Any]] = None
    """PodTemplateSpec for `inference.template` (a model KAITO has no preset for)."""
    hf_token: Optional[pulumi.Input[str]] = None
    """Hugging Face token (secret) for presets whose weights download at run time; None otherwise."""
    readiness_timeout_minutes: int = 30
    """How long `pulumi up` waits for the Workspace to report WorkspaceSucceeded."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Labels for every object (app.kubernetes.io/* recommended labels)."""
    model_client_labels: Optional[Mapping[str, str]] = None
    """When set, a NetworkPolicy admits to the model's pods only pods carrying these labels."""
    paused: bool = False
    """True: no Workspace (the namespace, secret and policy stay), so no GPU node either."""
    gpu_pool_cleanup: Optional[GpuPoolCleanup] = None
    """When set, the GPU pool KAITO made is deleted after the Workspace is (KAITO leaves it billing)."""


class KaitoWorkspace(pulumi.ComponentResource):
    """A KAITO Workspace that `pulumi up` waits for until the model is really served."""

    namespace: pulumi.Output[str]
    """The namespace holding the Workspace and its Service."""
    workspace_name: pulumi.Output[str]
    """The Workspace's name, also its Service's name."""
    inference_endpoint: pulumi.Output[str]
    """In-cluster OpenAI-compatible base URL, ending in /v1."""

    def __init__(
        self, name: str, args: KaitoWorkspaceArgs, provider: k8s.Provider, opts: Optional[pulumi.ResourceOptions] = None
    ) -> None:
        super().__init__("kaito-aks:workspace:KaitoWorkspace", name, {}, opts)
        # With upstream KAITO the component waits for its Helm charts (CRD and webhook).
        after = inherited_dependencies(opts)
        on_cluster = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=after)

        namespace = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=args.namespace, labels=dict(args.labels)),
            opts=on_cluster,
        )

        depends_on: list[pulumi.Resource] = [namespace, *after]
        access_secret_name: Optional[str] = None
        if args.hf_token is not None:
            access_secret_name = f"{args.workspace_name}-hf-token"
            secret = k8s.core.v1.Secret(
                f"{name}-hf-token",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=access_secret_name, namespace=namespace.metadata.name, labels=dict(args.labels)
                ),
                type="Opaque",
                string_data={HF_TOKEN_KEY: pulumi.Output.secret(args.hf_token)},
                opts=on_cluster,
            )
            depends_on.append(secret)

        self.workspace: Optional[pulumi.CustomResource] = None
        if not args.paused:
            timeout_seconds = args.readiness_timeout_minutes * 60
            manifest = workspace_manifest(args, access_secret_name, timeout_seconds)
            timeout = f"{args.readiness_timeout_minutes}m"
            hooks = None
            if args.gpu_pool_cleanup is not None:
                hook = cleanup_hook(f"{name}-delete-kaito-gpu-pools", args.gpu_pool_cleanup)
                hooks = pulumi.ResourceHookBinding(after_delete=[hook])
            self.workspace = pulumi.CustomResource(
                f"kubernetes:{WORKSPACE_API_VERSION}:Workspace",
                f"{name}-workspace",
                # Workspace has no `spec`: `resource` and `inference` sit at the top level, which
                # pulumi_kubernetes' CustomResource class cannot express (pulumi-kubernetes#2363).
                props={**manifest, "metadata": {**manifest["metadata"], "namespace": namespace.metadata.name}},
                opts=pulumi.ResourceOptions(
                    parent=self,
                    provider=provider,
                    depends_on=depends_on,
                    # instanceType is immutable in KAITO: a new size means a new Workspace, and the
                    # old one must go first because both carry the same name.
                    replace_on_changes=["resource.instanceType"],
                    delete_before_replace=True,
                    custom_timeouts=pulumi.CustomTimeouts(create=timeout, update=timeout),
                    hooks=hooks,
                ),
            )

        if args.model_client_labels is not None:
            k8s.networking.v1.NetworkPolicy(
                f"{name}-model-access",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=f"{args.workspace_name}-model-access", namespace=namespace.metadata.name, labels=dict(args.labels)
                ),
                spec=model_access_policy_spec(args.workspace_name, args.model_client_labels),
                opts=on_cluster,
            )

        self.namespace = namespace.metadata.name
        self.workspace_name = (
            self.workspace.metadata.apply(lambda m: m["name"])  # type: ignore[attr-defined]
            if self.workspace is not None
            else pulumi.Output.from_input(args.workspace_name)
        )
        self.inference_endpoint = pulumi.Output.all(self.workspace_name, self.namespace).apply(
            lambda parts: inference_endpoint(parts[0], parts[1])
        )
        self.register_outputs(
            {
                "namespace": self.namespace,
                "workspaceName": self.workspace_name,
                "inferenceEndpoint": self.inference_endpoint,
            }
        )


def workspace_manifest(
    args: KaitoWorkspaceArgs, access_secret_name: Optional[str], timeout_seconds: int
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
            "labelSelector": {"matchLabels": {"apps": args.workspace_name}},
        },
        "inference": inference,
    }


def model_access_policy_spec(workspace_name: str, client_labels: Mapping[str, str]) -> dict[str, Any]:
    """Only labelled clients reach the model's port; the model's own pods reach each other freely.

    KAITO labels every pod of a Workspace kaito.sh/workspace=<name>; pods of one Workspace talk to
    each other when a model spans several nodes.
    """
    model_pods = {"matchLabels": {"kaito.sh/workspace": workspace_name}}
    return {
        "podSelector": model_pods,
        "policyTypes": ["Ingress"],
        "ingress": [
            {
                "from": [{"podSelector": {"matchLabels": dict(client_labels)}}],
                "ports": [{"port": MODEL_PORT, "protocol": "TCP"}],
            },
            {"from": [{"podSelector": model_pods}]},
        ],
    }


def inference_endpoint(workspace_name: str, namespace: str) -> str:
    return f"http://{workspace_name}.{namespace}.svc.cluster.local/v1"


def llama_cpp_pod_template(
    *,
    image: str,
    hf_repo: str,
    quantization: str,
    alias: str,
    cpu_request: str,
    cpu_limit: str,
    memory_request: str,
    memory_limit: str,
    labels: Mapping[str, str],
    context_size: int = 4096,
) -> dict[str, Any]:
    """A PodTemplateSpec running llama.cpp's OpenAI-compatible server on port 5000.

    The GGUF is downloaded from Hugging Face at start into an emptyDir cache; the root filesystem
    stays read-only and the process runs as an unprivileged user.
    """
    health = {"httpGet": {"path": "/health", "port": MODEL_PORT}}
    return {
        "metadata": {"labels": dict(labels)},
        "spec": {
            "securityContext": restricted_pod_security_context(fs_group=True),
            "containers": [
                {
                    "name": "llama-server",
                    "image": image,
                    "args": [
                        "--host", "0.0.0.0",
                        "--port", str(MODEL_PORT),
                        "-hf", f"{hf_repo}:{quantization}",
                        "--alias", alias,
                        "-c", str(context_size),
                    ],
                    "env": [
                        {"name": "LLAMA_CACHE", "value": "/cache"},
                        {"name": "HOME", "value": "/tmp"},
                    ],
                    "ports": [{"name": "http", "containerPort": MODEL_PORT, "protocol": "TCP"}],
                    # The server only listens once the model is downloaded and loaded; the startup
                    # probe allows 20 minutes for that before liveness starts counting.
                    "startupProbe": {**health, "periodSeconds": 10, "failureThreshold": 120},
                    "readinessProbe": {**health, "periodSeconds": 10, "failureThreshold": 3},
                    "livenessProbe": {**health, "periodSeconds": 20, "failureThreshold": 3, "timeoutSeconds": 5},
                    "resources": resources(cpu_request, memory_request, cpu_limit, memory_limit),
                    "securityContext": restricted_container_security_context(),
                    "volumeMounts": [
                        {"name": "model-cache", "mountPath": "/cache"},
                        {"name": "tmp", "mountPath": "/tmp"},
                    ],
                }
            ],
            "volumes": [
                {"name": "model-cache", "emptyDir": {"sizeLimit": "4Gi"}},
                {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
            ],
        },
    }
