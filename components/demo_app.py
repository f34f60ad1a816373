"""DemoApp: the chat app, run from its source in a ConfigMap on a pinned Python image."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes import (
    ModelConnection,
    inherited_dependencies,
    model_client_egress_spec,
    pod_selector,
    resources,
    restricted_container_security_context,
    restricted_pod_security_context,
    serve_port_spec,
)

APP_PORT = 8000
SOURCE_MOUNT = "/app"
SOURCE_CHECKSUM_ANNOTATION = "kaito-aks/source-sha256"


@dataclass(frozen=True)
class DemoAppArgs:
    """Where the app runs, what it talks to and who may reach it."""

    namespace: pulumi.Input[str]
    """Namespace to run in (the Workspace's)."""
    connection: ModelConnection
    """How the app reaches the model: in the cluster, or through the front door with its own API key."""
    source: Mapping[str, str]
    """The app's files by name (app.py, index.html, ...), mounted read-only at /app."""
    image: str
    """Pinned Python image to run app.py with."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Recommended labels, plus any label the model's NetworkPolicy admits."""
    name: str = "demo-app"
    """Name of the Deployment, Service and ConfigMap."""
    replicas: int = 1
    """0 while the stack is paused: the app has no model to talk to."""
    clients: tuple[dict[str, Any], ...] = ()
    """NetworkPolicy peers allowed to reach the app (the front door's proxies); empty: any (kubectl
    port-forward, which NetworkPolicy does not see, is how a private stack is reached)."""
    team: str = "demo-app"
    """The app's team name at the front door (its key, its limits, its usage)."""


class DemoApp(pulumi.ComponentResource):
    """ConfigMap (source) + Deployment + Service for the chat app."""

    service_name: pulumi.Output[str]
    """Name of the app's Service."""
    port_forward_command: pulumi.Output[str]
    """The kubectl command that makes the app reachable on http://localhost:8000 (runnable as is)."""

    def __init__(self, name: str, args: DemoAppArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kaito-aks:demo_app:DemoApp", name, {}, opts)
        after = inherited_dependencies(opts)
        on_cluster = pulumi.ResourceOptions(parent=self, depends_on=after)
        labels = dict(args.labels)
        selector = {key: labels[key] for key in ("app.kubernetes.io/name", "app.kubernetes.io/instance")}

        source = k8s.core.v1.ConfigMap(
            f"{name}-source",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{args.name}-source", namespace=args.namespace, labels=labels),
            data=dict(args.source),
            opts=on_cluster,
        )

        policies = [
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{direction}",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{args.name}-{direction}", namespace=args.namespace,
                                                    labels=labels),
                spec=spec,
                opts=on_cluster,
            )
            for direction, spec in (
                ("ingress", serve_port_spec(pod_selector(labels), APP_PORT, args.clients)),
                ("egress", model_client_egress_spec(pod_selector(labels), args.connection)),
            )
        ]
        # The pods start under their policies: an app that cannot reach its model never becomes ready.
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=args.name, namespace=args.namespace, labels=labels),
            spec=deployment_spec(args, labels, selector, source.metadata.name),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[source, *policies, *after]),
        )

        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=args.name, namespace=args.namespace, labels=labels),
            spec=service_spec(args, selector),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[deployment, *after]),
        )

        self.service_name = service.metadata.name
        self.port_forward_command = pulumi.Output.concat(
            "kubectl port-forward -n ", service.metadata.namespace, " svc/", service.metadata.name,
            f" {APP_PORT}:80",
        )
        self.register_outputs({"serviceName": self.service_name, "portForwardCommand": self.port_forward_command})


def source_checksum(source: Mapping[str, str]) -> str:
    """A digest of the app's files: in the pod template, so changing the code rolls the pods."""
    digest = hashlib.sha256()
    for filename in sorted(source):
        digest.update(filename.encode() + b"\0" + source[filename].encode() + b"\0")
    return digest.hexdigest()


def deployment_spec(
    args: DemoAppArgs, labels: Mapping[str, str], selector: Mapping[str, str], source_config_map: pulumi.Input[str]
) -> dict[str, Any]:
    def probe(path: str, period: int) -> dict[str, Any]:
        return {"httpGet": {"path": path, "port": "http"}, "periodSeconds": period, "timeoutSeconds": 3,
                "failureThreshold": 3}

    return {
        "replicas": args.replicas,
        "selector": {"matchLabels": dict(selector)},
        "template": {
            "metadata": {
                "labels": dict(labels),
                "annotations": {SOURCE_CHECKSUM_ANNOTATION: source_checksum(args.source)},
            },
            "spec": {
                "automountServiceAccountToken": False,
                "securityContext": restricted_pod_security_context(),
                "containers": [
                    {
                        "name": "app",
                        "image": args.image,
                        "command": ["python", f"{SOURCE_MOUNT}/app.py"],
                        "env": [
                            *args.connection.env(),
                            {"name": "PORT", "value": str(APP_PORT)},
                            {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
                            {"name": "PYTHONUNBUFFERED", "value": "1"},
                        ],
                        "ports": [{"name": "http", "containerPort": APP_PORT, "protocol": "TCP"}],
                        "livenessProbe": probe("/healthz", 20),
                        # Ready only while the model answers /v1/models, so the Service never sends
                        # people to an app that cannot reach its model.
                        "readinessProbe": probe("/readyz", 10),
                        "resources": resources("50m", "64Mi", "500m", "256Mi"),
                        "securityContext": restricted_container_security_context(),
                        "volumeMounts": [
                            {"name": "source", "mountPath": SOURCE_MOUNT, "readOnly": True},
                            {"name": "tmp", "mountPath": "/tmp"},
                            *args.connection.volume_mounts(),
                        ],
                    }
                ],
                "volumes": [
                    {"name": "source", "configMap": {"name": source_config_map}},
                    {"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}},
                    *args.connection.volumes(args.team),
                ],
            },
        },
    }


def service_spec(args: DemoAppArgs, selector: Mapping[str, str]) -> dict[str, Any]:
    """Inside the cluster only: people reach the app through the front door, or kubectl port-forward."""
    return {
        "type": "ClusterIP",
        "selector": dict(selector),
        "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
    }
