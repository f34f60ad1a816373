"""The custom resources kaito-aks creates, each checked against the strict schema of the CRD at the version the
program pins (tests/schemas/SOURCES.md says where each comes from)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema

SCHEMAS = Path(__file__).parent / "schemas"
SCHEMA_OF = {
    "kubernetes:gateway.networking.k8s.io/v1:GatewayClass": "gatewayclass-v1-envoy-gateway-1.8.3",
    "kubernetes:gateway.networking.k8s.io/v1:Gateway": "gateway-v1-envoy-gateway-1.8.3",
    "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute": "httproute-v1-envoy-gateway-1.8.3",
    "kubernetes:gateway.envoyproxy.io/v1alpha1:EnvoyProxy": "envoyproxy-v1alpha1-envoy-gateway-1.8.3",
    "kubernetes:gateway.envoyproxy.io/v1alpha1:SecurityPolicy": "securitypolicy-v1alpha1-envoy-gateway-1.8.3",
    "kubernetes:gateway.envoyproxy.io/v1alpha1:BackendTrafficPolicy":
        "backendtrafficpolicy-v1alpha1-envoy-gateway-1.8.3",
    "kubernetes:gateway.envoyproxy.io/v1alpha1:Backend": "backend-v1alpha1-envoy-gateway-1.8.3",
    "kubernetes:aigateway.envoyproxy.io/v1beta1:AIGatewayRoute": "aigatewayroute-v1beta1-ai-gateway-1.1.0",
    "kubernetes:aigateway.envoyproxy.io/v1beta1:AIServiceBackend": "aiservicebackend-v1beta1-ai-gateway-1.1.0",
    "kubernetes:cert-manager.io/v1:ClusterIssuer": "clusterissuer-v1-cert-manager-1.21.1",
    "kubernetes:azmonitoring.coreos.com/v1:PodMonitor": "podmonitor-v1-azure-monitor-metrics-7.1.1",
}


@functools.lru_cache
def validator(name: str) -> jsonschema.protocols.Validator:
    """One validator per schema for the session (the Envoy Gateway schemas run to hundreds of kilobytes)."""
    schema = json.loads((SCHEMAS / f"{name}.strict.schema.json").read_text())
    return jsonschema.validators.validator_for(schema)(schema)


def validate_custom_resource(type_: str, manifest: dict[str, Any]) -> None:
    validator(SCHEMA_OF[type_]).validate(manifest)
