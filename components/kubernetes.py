"""Hardening shared by every pod kaito-aks runs (no component here: plain builders)."""

from __future__ import annotations

from collections.abc import Mapping
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


def serve_port_spec(pods: Mapping[str, str], port: int) -> dict[str, Any]:
    """`pods` accept connections on `port` from any source (a LoadBalancer's own source ranges still apply)."""
    return {
        "podSelector": {"matchLabels": dict(pods)},
        "policyTypes": ["Ingress"],
        "ingress": [{"ports": [{"port": port, "protocol": "TCP"}]}],
    }


def model_client_egress_spec(clients: Mapping[str, str], model_pods: Mapping[str, str], model_port: int) -> dict:
    """`clients` (same namespace) may resolve names and call the model's port; nothing else leaves them."""
    return {
        "podSelector": {"matchLabels": dict(clients)},
        "policyTypes": ["Egress"],
        "egress": [
            {"to": [CLUSTER_DNS], "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
            {"to": [{"podSelector": {"matchLabels": dict(model_pods)}}],
             "ports": [{"port": model_port, "protocol": "TCP"}]},
        ],
    }


def pod_selector(labels: Mapping[str, str]) -> dict[str, str]:
    """The labels that single out one component's pods of one stack."""
    return {key: labels[key] for key in ("app.kubernetes.io/instance", "app.kubernetes.io/component")}
