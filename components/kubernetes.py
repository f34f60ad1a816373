"""Hardening shared by every pod kaito-aks runs (no component here: plain builders)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

# An unprivileged user that exists in no image: files it writes land only on mounted volumes.
NON_ROOT_USER = 65532


def restricted_pod_security_context(fs_group: bool = False) -> dict[str, Any]:
    """Pod-level settings of the Kubernetes 'restricted' Pod Security Standard."""
    context: dict[str, Any] = {
        "runAsNonRoot": True,
        "runAsUser": NON_ROOT_USER,
        "runAsGroup": NON_ROOT_USER,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if fs_group:
        context["fsGroup"] = NON_ROOT_USER
    return context


def restricted_container_security_context() -> dict[str, Any]:
    """Container-level settings: read-only root filesystem, no privilege escalation, no capabilities."""
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }


def resources(cpu_request: str, memory_request: str, cpu_limit: str, memory_limit: str) -> dict[str, Any]:
    return {
        "requests": {"cpu": cpu_request, "memory": memory_request},
        "limits": {"cpu": cpu_limit, "memory": memory_limit},
    }


def inherited_dependencies(opts: pulumi.ResourceOptions | None) -> list[pulumi.Resource]:
    """The component's own depends_on, for its children: Pulumi does not pass it down by itself,
    so without this a child (a smoke test Job) could start before what its component waits for."""
    depends_on = opts.depends_on if opts is not None else None
    if depends_on is None:
        return []
    if isinstance(depends_on, (list, tuple)):
        return list(depends_on)
    return [depends_on]  # type: ignore[list-item]


# --- NetworkPolicies -----------------------------------------------------------------------------
# The namespace denies all ingress; each component then allows what it serves, and the model's clients
# may send only DNS queries and requests to the model. AKS runs CoreDNS as k8s-app=kube-dns in kube-system;
# Kubernetes labels every namespace kubernetes.io/metadata.name=<name>.
CLUSTER_DNS = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
}


def deny_all_ingress_spec() -> dict[str, Any]:
    """Every pod of the namespace: no ingress but what another policy allows (kubelet probes come from the
    node, which NetworkPolicy always admits)."""
    return {"podSelector": {}, "policyTypes": ["Ingress"]}


def serve_port_spec(pods: Mapping[str, str], port: int, clients: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    """`pods` accept connections on `port` from `clients` (NetworkPolicy peers), or from any source."""
    rule: dict[str, Any] = {"ports": [{"port": port, "protocol": "TCP"}]}
    if clients:
        rule = {"from": list(clients), **rule}
    return {"podSelector": {"matchLabels": dict(pods)}, "policyTypes": ["Ingress"], "ingress": [rule]}


@dataclass(frozen=True)
class Destination:
    """Where a client may connect: any of `peers` (NetworkPolicy peers) on `port`."""

    peers: tuple[dict[str, Any], ...]
    port: int


@dataclass(frozen=True)
class ModelConnection:
    """How the demo app and the smoke test reach the model: in the cluster, or through the front door with an
    API key of their own (kept in a Secret under their team name)."""

    endpoint: pulumi.Input[str]
    """OpenAI-compatible base URL, ending in /v1."""
    identity: str
    """What the endpoint is, as stable text (part of the smoke test Job's name)."""
    destinations: tuple[Destination, ...]
    """Where the client's traffic to the model goes, for its egress policy."""
    api_key_secret: str | None = None
    verify_tls: bool = True
    """False only for a front door with a test certificate (Let's Encrypt staging), which nothing can verify."""

    def env(self) -> list[dict[str, Any]]:
        env: list[dict[str, Any]] = [{"name": "INFERENCE_ENDPOINT", "value": self.endpoint}]
        if self.api_key_secret is not None:
            # A file, not an environment variable: it never shows in `kubectl describe` or a crash dump, and a
            # rotated key reaches the running app (the kubelet refreshes mounted Secrets).
            env.append({"name": "INFERENCE_API_KEY_FILE", "value": f"{API_KEY_MOUNT}/{API_KEY_FILE}"})
        if not self.verify_tls:
            env.append({"name": "INFERENCE_TLS_VERIFY", "value": "false"})
        return env

    def volumes(self, team: str) -> list[dict[str, Any]]:
        if self.api_key_secret is None:
            return []
        return [{"name": "api-key", "secret": {"secretName": self.api_key_secret,
                                               "items": [{"key": team, "path": API_KEY_FILE}]}}]

    def volume_mounts(self) -> list[dict[str, Any]]:
        if self.api_key_secret is None:
            return []
        return [{"name": "api-key", "mountPath": API_KEY_MOUNT, "readOnly": True}]


API_KEY_MOUNT = "/var/run/kaito-aks"
API_KEY_FILE = "api-key"


def in_cluster_model(endpoint: str, model_pods: Mapping[str, str], model_port: int) -> ModelConnection:
    return ModelConnection(endpoint, endpoint, (Destination(({"podSelector": {"matchLabels": dict(model_pods)}},),
                                                            model_port),))


def model_client_egress_spec(clients: Mapping[str, str], connection: ModelConnection) -> dict[str, Any]:
    """`clients` (same namespace) may resolve names and reach the model the way `connection` says; nothing else
    leaves them."""
    return {
        "podSelector": {"matchLabels": dict(clients)},
        "policyTypes": ["Egress"],
        "egress": [
            {"to": [CLUSTER_DNS], "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
            *({"to": list(destination.peers), "ports": [{"port": destination.port, "protocol": "TCP"}]}
              for destination in connection.destinations),
        ],
    }


def pod_selector(labels: Mapping[str, str]) -> dict[str, str]:
    """The labels that single out one component's pods of one stack."""
    return {key: labels[key] for key in ("app.kubernetes.io/instance", "app.kubernetes.io/component")}
