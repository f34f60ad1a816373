"""Hardening shared by every pod kaito-aks runs (no component here: plain builders)."""

from __future__ import annotations

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
