"""GpuMetricsExporter: NVIDIA's DCGM exporter on the model's GPU nodes, so GPU use and memory reach Prometheus.

Nothing else puts it there: KAITO's GPU nodes are ordinary AKS node pools (gpu-provisioner) or Karpenter nodes,
which AKS gives the NVIDIA driver only; the managed DCGM exporter comes only with `gpuProfile.nvidia.
managementMode: Managed` pools (MicrosoftDocs/azure-aks-docs:articles/aks/aks-managed-gpu-nodes.md, preview),
which KAITO does not create.

How it runs, read from NVIDIA/dcgm-exporter@4.5.3-4.8.2 (deployment/values.yaml, deployment/templates/
daemonset.yaml, docker/Dockerfile):
- Not as root and with no capabilities: the basic DCGM_FI_DEV_* fields need neither root nor SYS_ADMIN (only the
  profiling DCGM_FI_PROF_* fields do), so the counters file below lists basic fields only. NVIDIA suggests the
  image's user 1000; kaito-aks's usual high UID (65532, no host user collides with it) works alike, since the
  GPU device files the runtime mounts are world-readable and writable (0666) and HOME is an emptyDir.
- It sees every GPU without asking the scheduler for one: the image sets NVIDIA_VISIBLE_DEVICES=all, and AKS
  makes nvidia-container-runtime the default runtime on N-series nodes (Azure/AgentBaker:pkg/agent/baker.go,
  the containerd template's IsNSeriesSKU branch).
- No pod-to-GPU mapping (DCGM_EXPORTER_KUBERNETES=false): that needs the kubelet's pod-resources socket from a
  hostPath, which the restricted Pod Security Standard forbids; each node runs one model, so the node says it.
- /health on the metrics port for the probes; 100m/128Mi requested, 200m/512Mi limit, as the chart sets.

Where: the nodes KAITO made for this Workspace carry its labelSelector (kaito-project/kaito@v0.6.0:pkg/utils/
nodeclaim/nodeclaim.go, @v0.12.0:pkg/nodeprovision/karpenter/nodepool.go) and the taint sku=gpu:NoSchedule,
which the exporter tolerates like KAITO's own pods (@v0.12.0:pkg/workspace/inference/preset_inferences.go
defaultTolerations).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes import (
    deny_all_ingress_spec,
    resources,
    restricted_container_security_context,
    restricted_pod_security_context,
    serve_port_spec,
)
from components.workspace import pod_security_labels

# The DCGM exporter's own namespace (restricted Pod Security; the model's namespace may be only baseline).
GPU_METRICS_NAMESPACE = "gpu-metrics"

EXPORTER_PORT = 9400
COUNTERS_DIR = "/etc/kaito-aks-dcgm"
# Basic fields only (no SYS_ADMIN); names and types from NVIDIA/dcgm-exporter@4.5.3-4.8.2:etc/default-counters.csv.
COUNTERS = """\
# Format: DCGM field, Prometheus metric type, help message
DCGM_FI_DEV_GPU_UTIL, gauge, GPU utilization (in %).
DCGM_FI_DEV_MEM_COPY_UTIL, gauge, Memory utilization (in %).
DCGM_FI_DEV_FB_FREE, gauge, Framebuffer memory free (in MiB).
DCGM_FI_DEV_FB_USED, gauge, Framebuffer memory used (in MiB).
DCGM_FI_DEV_GPU_TEMP, gauge, GPU temperature (in C).
DCGM_FI_DEV_POWER_USAGE, gauge, Power draw (in W).
DCGM_FI_DEV_XID_ERRORS, gauge, Value of the last XID error encountered.
"""
# The tolerations KAITO gives its inference pods (kaito-project/kaito@v0.12.0:pkg/workspace/inference/
# preset_inferences.go defaultTolerations; the spot one is Azure's kubernetes.azure.com/scalesetpriority).
GPU_NODE_TOLERATIONS = [
    {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"},
    {"key": "kubernetes.azure.com/scalesetpriority", "operator": "Equal", "value": "spot", "effect": "NoSchedule"},
]


@dataclass(frozen=True)
class GpuMetricsExporterArgs:
    namespace: str
    image: str
    gpu_nodes: Sequence[Mapping[str, str]]
    """The labels of each GPU model's nodes (its Workspace's labelSelector): the exporter runs on any of them."""
    scrapers: tuple[dict[str, Any], ...]
    """NetworkPolicy peers that may read the metrics."""
    labels: Mapping[str, str] = field(default_factory=dict)


class GpuMetricsExporter(pulumi.ComponentResource):
    """A namespace of its own (restricted Pod Security), the counters, the DaemonSet and who may scrape it."""

    namespace: pulumi.Output[str]
    pods: dict[str, str]
    """The exporter pods' labels (for a PodMonitor)."""

    def __init__(self, name: str, args: GpuMetricsExporterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kaito-aks:gpu_metrics:GpuMetricsExporter", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = dict(args.labels)
        self.pods = {"app.kubernetes.io/name": "dcgm-exporter", "app.kubernetes.io/instance":
                     labels.get("app.kubernetes.io/instance", name)}
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=args.namespace,
                                                labels={**labels, **pod_security_labels("restricted")}),
            opts=child,
        )
        in_namespace = pulumi.ResourceOptions(parent=self, depends_on=[namespace])
        k8s.networking.v1.NetworkPolicy(
            f"{name}-default-deny-ingress",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="default-deny-ingress", namespace=args.namespace, labels=labels),
            spec=deny_all_ingress_spec(), opts=in_namespace,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-scrapers",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="dcgm-exporter-scrapers", namespace=args.namespace,
                                                labels=labels),
            spec=serve_port_spec(self.pods, EXPORTER_PORT, args.scrapers), opts=in_namespace,
        )
        counters = k8s.core.v1.ConfigMap(
            f"{name}-counters",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="dcgm-exporter-counters", namespace=args.namespace,
                                                labels=labels),
            data={"counters.csv": COUNTERS}, opts=in_namespace,
        )
        health = {"httpGet": {"path": "/health", "port": EXPORTER_PORT}, "periodSeconds": 10}
        k8s.apps.v1.DaemonSet(
            f"{name}-daemonset",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="dcgm-exporter", namespace=args.namespace, labels=labels),
            spec={
                "selector": {"matchLabels": self.pods},
                "template": {
                    "metadata": {"labels": {**labels, **self.pods}},
                    "spec": {
                        "automountServiceAccountToken": False,
                        **gpu_node_placement(args.gpu_nodes),
                        "tolerations": GPU_NODE_TOLERATIONS,
                        "securityContext": restricted_pod_security_context(),
                        "containers": [{
                            "name": "exporter",
                            "image": args.image,
                            "args": ["-f", f"{COUNTERS_DIR}/counters.csv"],
                            "env": [{"name": "DCGM_EXPORTER_KUBERNETES", "value": "false"},
                                    {"name": "HOME", "value": "/tmp"},
                                    {"name": "DCGM_EXPORTER_LISTEN", "value": f":{EXPORTER_PORT}"}],
                            "ports": [{"name": "metrics", "containerPort": EXPORTER_PORT}],
                            "securityContext": restricted_container_security_context(),
                            "resources": resources("100m", "128Mi", "200m", "512Mi"),
                            "livenessProbe": {**health, "initialDelaySeconds": 45},
                            "readinessProbe": {**health, "initialDelaySeconds": 15},
                            # A read-only root wants writable scratch space: NVIDIA's chart enables it only "if tmpfs
                            # volumes are configured" (NVIDIA/dcgm-exporter@4.5.3-4.8.2:deployment/values.yaml). /tmp
                            # is HOME; /var/log is where DCGM's host engine and the exporter's debug output may write.
                            "volumeMounts": [{"name": "counters", "mountPath": COUNTERS_DIR, "readOnly": True},
                                             {"name": "tmp", "mountPath": "/tmp"},
                                             {"name": "logs", "mountPath": "/var/log"}],
                        }],
                        "volumes": [{"name": "counters", "configMap": {"name": counters.metadata.name}},
                                    {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
                                    {"name": "logs", "emptyDir": {"sizeLimit": "64Mi"}}],
                    },
                },
            },
            opts=in_namespace,
        )
        self.namespace = namespace.metadata.name
        self.register_outputs({"namespace": self.namespace})


def gpu_node_placement(gpu_nodes: Sequence[Mapping[str, str]]) -> dict[str, Any]:
    """Pod spec fields that place the exporter on the nodes of any of the stack's GPU models: a nodeSelector for one
    model, for several a node affinity whose terms are ORed, one per model (a nodeSelector can only AND)."""
    if len(gpu_nodes) == 1:
        return {"nodeSelector": dict(gpu_nodes[0])}
    return {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": key, "operator": "In", "values": [value]} for key, value in labels.items()]}
        for labels in gpu_nodes]}}}}
