"""InferenceAutoscaler: KEDA and KAITO's KEDA scaler, which add and remove copies of the model with its queue.

keda-kaito-scaler watches InferenceSets annotated scaledobject.kaito.sh/auto-provision, makes a KEDA ScaledObject
for each and answers KEDA's questions by reading vLLM's /metrics on every copy's Service (port 80), without
Prometheus (kaito-project/keda-kaito-scaler@v0.6.2:README.md; pkg/metricsource/modelpod_source.go). It must run in
KEDA's own namespace: its ClusterTriggerAuthentication points at TLS secrets there (README, "must be installed in
the same namespace as KEDA"). KEDA itself is not part of KAITO's charts (KAITO 0.12's docs install it with Helm).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes import inherited_dependencies
from components.workspace import pod_security_labels

NAMESPACE = "keda"
# kedacore/charts@v2.20.1:keda: the KEDA the scaler is built against (kaito-project/keda-kaito-scaler@v0.6.2:go.mod,
# github.com/kedacore/keda/v2 v2.20.1).
KEDA_CHART = "keda"
KEDA_REPOSITORY = "https://kedacore.github.io/charts"
KEDA_VERSION = "2.20.1"
# kaito-project/keda-kaito-scaler@v0.6.2:charts/keda-kaito-scaler (the chart KAITO 0.12's productionstack bundles).
SCALER_CHART = "keda-kaito-scaler"
SCALER_REPOSITORY = "https://kaito-project.github.io/keda-kaito-scaler/charts/kaito-project"
SCALER_VERSION = "0.6.2"
SCALER_RELEASE = "keda-kaito-scaler"
# The scaler pods' labels: the chart's selectorLabels (charts/keda-kaito-scaler/templates/_helpers.tpl).
SCALER_POD_LABELS = {"app.kubernetes.io/name": SCALER_CHART, "app.kubernetes.io/instance": SCALER_RELEASE}


def scaler_peer(namespace: str = NAMESPACE) -> dict[str, Any]:
    """A NetworkPolicy peer for the scaler's pods, which read the model's /metrics."""
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
            "podSelector": {"matchLabels": dict(SCALER_POD_LABELS)}}


@dataclass(frozen=True)
class InferenceAutoscalerArgs:
    labels: Mapping[str, str] = field(default_factory=dict)
    """Labels for the namespace."""


class InferenceAutoscaler(pulumi.ComponentResource):
    """KEDA and keda-kaito-scaler in namespace `keda`. The Kubernetes provider comes through `opts`.

    Not done here: KAITO's own CI restarts keda-operator after installing the scaler (kaito-project/kaito@v0.12.0:
    .github/workflows/aikit.yaml); kaito-aks installs the scaler before any InferenceSet exists, so KEDA's first
    call to it comes after its certificates (README, Several copies, for the restart if scaling never starts)."""

    def __init__(self, name: str, args: InferenceAutoscalerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kaito-aks:autoscaling:InferenceAutoscaler", name, {}, opts)
        after = inherited_dependencies(opts)
        namespace = k8s.core.v1.Namespace(
            f"{name}-ns",
            # KEDA's and the scaler's pods run as non-root without privileges; enforce baseline, warn at restricted.
            metadata=k8s.meta.v1.ObjectMetaArgs(name=NAMESPACE,
                                                labels={**args.labels, **pod_security_labels("baseline")}),
            opts=pulumi.ResourceOptions(parent=self, depends_on=after),
        )
        keda = k8s.helm.v3.Release(
            f"{name}-keda",
            name="keda",
            chart=KEDA_CHART,
            version=KEDA_VERSION,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=KEDA_REPOSITORY),
            namespace=namespace.metadata.name,
            values=keda_values(),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace, *after]),
        )
        # The scaler makes its ClusterTriggerAuthentication (a KEDA CRD) when it starts, and KEDA must be running to
        # answer its ScaledObjects: after KEDA.
        self.scaler = k8s.helm.v3.Release(
            f"{name}-scaler",
            name=SCALER_RELEASE,
            chart=SCALER_CHART,
            version=SCALER_VERSION,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=SCALER_REPOSITORY),
            namespace=namespace.metadata.name,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[keda, *after]),
        )
        self.register_outputs({"scalerStatus": self.scaler.status})


def keda_values() -> dict[str, Any]:
    """KEDA's CRDs stay when the release goes (Helm's resource-policy keep): the scaler's ClusterTriggerAuthentication
    carries KEDA's finalizer and is never removed by the scaler, so deleting the CRDs with their controller would
    leave them stuck Terminating and block a later install (kedacore/charts@v2.20.1:keda/values.yaml
    crds.additionalAnnotations, templates/crds/*)."""
    return {"crds": {"additionalAnnotations": {"helm.sh/resource-policy": "keep"}}}
