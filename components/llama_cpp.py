"""The pod recipe for a CPU model: llama.cpp's OpenAI-compatible server, as a KAITO `inference.template`.

KAITO runs the template as the Workspace's pods and puts its Service (port 80 -> 5000) in front of
them, exactly as for a GPU preset, so clients cannot tell the difference.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components.kubernetes import resources, restricted_container_security_context, restricted_pod_security_context
from components.workspace import MODEL_PORT


@dataclass(frozen=True)
class LlamaCppServer:
    """What the server runs and how much of the node it may use."""

    image: str
    """Pinned llama.cpp server image."""
    hf_repo: str
    """Hugging Face repository holding the GGUF file (public: no token)."""
    quantization: str
    alias: str
    """The model id /v1/models reports."""
    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str
    context_size: int = 4096


def llama_cpp_pod_template(server: LlamaCppServer, labels: Mapping[str, str]) -> dict[str, Any]:
    """A PodTemplateSpec running llama.cpp's server on port 5000.

    The GGUF is downloaded from Hugging Face at start into an emptyDir cache; the root filesystem
    stays read-only and the process runs as an unprivileged user.
    """
    health = {"httpGet": {"path": "/health", "port": MODEL_PORT}}
    return {
        "metadata": {"labels": dict(labels)},
        "spec": {
            # llama.cpp never calls the Kubernetes API: no service account token in the pod.
            "automountServiceAccountToken": False,
            "securityContext": restricted_pod_security_context(fs_group=True),
            "containers": [
                {
                    "name": "llama-server",
                    "image": server.image,
                    "args": [
                        "--host", "0.0.0.0",
                        "--port", str(MODEL_PORT),
                        "-hf", f"{server.hf_repo}:{server.quantization}",
                        "--alias", server.alias,
                        "-c", str(server.context_size),
                        # Prometheus metrics on /metrics, read by the stack's PodMonitor (kaito-aks:metrics).
                        "--metrics",
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
                    "resources": resources(server.cpu_request, server.memory_request, server.cpu_limit,
                                           server.memory_limit),
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
