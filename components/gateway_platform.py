"""GatewayPlatform: the cluster-wide pieces of the front door (kaito-aks:exposure public).

- Envoy Gateway, the Gateway API implementation, with the settings Envoy AI Gateway requires (the Backend API and
  its extension manager; envoyproxy/ai-gateway@v1.1.0:manifests/envoy-gateway-values.yaml) and global rate limits
  kept in Redis (envoyproxy/ai-gateway@v1.1.0:examples/token_ratelimit/envoy-gateway-values-addon.yaml, without
  that file's ratelimit image override: Envoy Gateway's own default is used). Gateway API and Envoy Gateway CRDs
  come with the chart.
- Envoy AI Gateway, which understands OpenAI requests: it routes by model, counts tokens per request (the token
  limits and the usage metrics) and serves /v1/models. Its routes live under /openai (endpointConfig.rootPrefix),
  so the chat page keeps "/" (envoyproxy/ai-gateway@v1.1.0:manifests/charts/ai-gateway-helm/values.yaml).
- cert-manager, with Gateway API support, for the Let's Encrypt certificate (cert-manager/cert-manager@v1.21.1:
  deploy/charts/cert-manager/values.yaml; `config.gatewayAPI.enabled` is the v1.21 key). It starts after the
  Gateway API CRDs exist, which it checks only at start.
- Redis for the rate-limit counters, hardened (the upstream example runs it as root with no limits).
- The GatewayClass the stack's Gateway uses.

Versions: AI Gateway 1.1.0 is built and tested against Envoy Gateway 1.8 (envoyproxy/ai-gateway@v1.1.0:site/
versioned_docs/version-1.1/compatibility.md, "v1.8.1+"); 1.8.3 is that line's newest patch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes import (
    inherited_dependencies,
    resources,
    restricted_container_security_context,
    restricted_pod_security_context,
)

ENVOY_GATEWAY_CHART = "oci://docker.io/envoyproxy/gateway-helm"
ENVOY_GATEWAY_VERSION = "v1.8.3"
AI_GATEWAY_CRDS_CHART = "oci://docker.io/envoyproxy/ai-gateway-crds-helm"
AI_GATEWAY_CHART = "oci://docker.io/envoyproxy/ai-gateway-helm"
AI_GATEWAY_VERSION = "v1.1.0"
CERT_MANAGER_CHART = "oci://quay.io/jetstack/charts/cert-manager"
CERT_MANAGER_VERSION = "v1.21.1"
GATEWAY_NAMESPACE = "envoy-gateway-system"
AI_GATEWAY_NAMESPACE = "envoy-ai-gateway-system"
CERT_MANAGER_NAMESPACE = "cert-manager"
GATEWAY_CLASS = "kaito-aks-front-door"
GATEWAY_CONTROLLER = "gateway.envoyproxy.io/gatewayclass-controller"
REDIS_NAME = "front-door-ratelimit-redis"
REDIS_PORT = 6379
# The header the API-key check writes the caller's team into; AI Gateway turns it into the team.id attribute of
# its token metrics (controller.metricsRequestHeaderAttributes), and the rate limits key on it.
TEAM_HEADER = "x-team-id"
API_ROOT_PREFIX = "/openai"


@dataclass(frozen=True)
class GatewayPlatformArgs:
    redis_image: str
    """Pinned Redis image for the rate-limit counters."""
    labels: Mapping[str, str] = field(default_factory=dict)


class GatewayPlatform(pulumi.ComponentResource):
    """Envoy Gateway + Envoy AI Gateway + cert-manager + Redis, and the GatewayClass.

    The Kubernetes provider comes through `opts` (`providers=[provider]`)."""

    gateway_class_name: str
    gateway_namespace: str
    ready: list[pulumi.Resource]
    """What a Gateway and its policies must wait for (the controllers and their CRDs)."""

    def __init__(self, name: str, args: GatewayPlatformArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kaito-aks:gateway_platform:GatewayPlatform", name, {}, opts)
        after = inherited_dependencies(opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=after)

        envoy_gateway = k8s.helm.v3.Release(
            f"{name}-envoy-gateway",
            name="eg",
            chart=ENVOY_GATEWAY_CHART,
            version=ENVOY_GATEWAY_VERSION,
            namespace=GATEWAY_NAMESPACE,
            create_namespace=True,
            values=envoy_gateway_values(),
            opts=child,
        )
        after_gateway = pulumi.ResourceOptions(parent=self, depends_on=[envoy_gateway, *after])
        ai_gateway_crds = k8s.helm.v3.Release(
            f"{name}-ai-gateway-crds",
            name="aieg-crd",
            chart=AI_GATEWAY_CRDS_CHART,
            version=AI_GATEWAY_VERSION,
            namespace=AI_GATEWAY_NAMESPACE,
            create_namespace=True,
            opts=after_gateway,
        )
        ai_gateway = k8s.helm.v3.Release(
            f"{name}-ai-gateway",
            name="aieg",
            chart=AI_GATEWAY_CHART,
            version=AI_GATEWAY_VERSION,
            namespace=AI_GATEWAY_NAMESPACE,
            values=ai_gateway_values(),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[ai_gateway_crds, envoy_gateway, *after]),
        )
        cert_manager = k8s.helm.v3.Release(
            f"{name}-cert-manager",
            name="cert-manager",
            chart=CERT_MANAGER_CHART,
            version=CERT_MANAGER_VERSION,
            namespace=CERT_MANAGER_NAMESPACE,
            create_namespace=True,
            values=cert_manager_values(),
            # cert-manager looks for the Gateway API CRDs once, at start: they come with Envoy Gateway.
            opts=after_gateway,
        )
        redis_labels = {**args.labels, "app.kubernetes.io/name": REDIS_NAME, "app.kubernetes.io/component": "ratelimit"}
        redis_selector = {"app.kubernetes.io/name": REDIS_NAME}
        redis = k8s.apps.v1.Deployment(
            f"{name}-redis",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=REDIS_NAME, namespace=GATEWAY_NAMESPACE, labels=redis_labels),
            spec=redis_deployment_spec(args, redis_labels, redis_selector),
            opts=after_gateway,
        )
        redis_service = k8s.core.v1.Service(
            f"{name}-redis",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=REDIS_NAME, namespace=GATEWAY_NAMESPACE, labels=redis_labels),
            spec={"selector": redis_selector, "ports": [{"name": "redis", "port": REDIS_PORT,
                                                         "targetPort": "redis", "protocol": "TCP"}]},
            opts=after_gateway,
        )
        # Only Envoy Gateway's own namespace (its rate-limit service) may reach the counters.
        k8s.networking.v1.NetworkPolicy(
            f"{name}-redis",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=REDIS_NAME, namespace=GATEWAY_NAMESPACE, labels=redis_labels),
            spec={"podSelector": {"matchLabels": redis_selector}, "policyTypes": ["Ingress"],
                  "ingress": [{"from": [{"podSelector": {}}], "ports": [{"port": REDIS_PORT, "protocol": "TCP"}]}]},
            opts=after_gateway,
        )
        gateway_class = k8s.apiextensions.CustomResource(
            f"{name}-gateway-class",
            api_version="gateway.networking.k8s.io/v1",
            kind="GatewayClass",
            metadata={"name": GATEWAY_CLASS, "labels": dict(args.labels)},
            spec={"controllerName": GATEWAY_CONTROLLER},
            opts=after_gateway,
        )
        self.gateway_class_name = GATEWAY_CLASS
        self.gateway_namespace = GATEWAY_NAMESPACE
        self.ready = [envoy_gateway, ai_gateway, cert_manager, redis, redis_service, gateway_class]
        self.register_outputs({"gatewayClassName": GATEWAY_CLASS})


def envoy_gateway_values() -> dict[str, Any]:
    return {"config": {"envoyGateway": {
        "gateway": {"controllerName": GATEWAY_CONTROLLER},
        "provider": {"type": "Kubernetes"},
        "extensionApis": {"enableEnvoyPatchPolicy": True, "enableBackend": True},
        "extensionManager": {
            "hooks": {"xdsTranslator": {
                "translation": {kind: {"includeAll": True} for kind in ("listener", "route", "cluster", "secret")},
                "post": ["Translation", "Cluster", "Route"],
            }},
            "service": {"fqdn": {"hostname": f"ai-gateway-controller.{AI_GATEWAY_NAMESPACE}.svc.cluster.local",
                                 "port": 1063}},
        },
        "rateLimit": {"backend": {"type": "Redis", "redis": {
            "url": f"{REDIS_NAME}.{GATEWAY_NAMESPACE}.svc.cluster.local:{REDIS_PORT}"}}},
    }}}


def ai_gateway_values() -> dict[str, Any]:
    return {
        "endpointConfig": {"rootPrefix": API_ROOT_PREFIX},
        # Per-team token metrics: the team header becomes the team.id attribute (team_id in Prometheus).
        "controller": {"metricsRequestHeaderAttributes": f"{TEAM_HEADER}:team.id"},
    }


def cert_manager_values() -> dict[str, Any]:
    return {"crds": {"enabled": True}, "config": {
        "apiVersion": "controller.config.cert-manager.io/v1alpha1", "kind": "ControllerConfiguration",
        "gatewayAPI": {"enabled": True},
    }}


def redis_deployment_spec(args: GatewayPlatformArgs, labels: Mapping[str, str],
                          selector: Mapping[str, str]) -> dict[str, Any]:
    """Redis for counters only: nothing is saved, it runs as the image's own user on a read-only root."""
    probe = {"tcpSocket": {"port": "redis"}, "periodSeconds": 10, "timeoutSeconds": 3}
    return {
        "replicas": 1,
        "selector": {"matchLabels": dict(selector)},
        "template": {
            "metadata": {"labels": dict(labels)},
            "spec": {
                "automountServiceAccountToken": False,
                # The image's own user is UID 999; a high UID keeps clear of the node's users (redis needs no
                # passwd entry, and writes only to its emptyDir).
                "securityContext": restricted_pod_security_context(fs_group=True),
                "containers": [{
                    "name": "redis",
                    "image": args.redis_image,
                    "args": ["redis-server", "--save", "", "--appendonly", "no"],
                    "ports": [{"name": "redis", "containerPort": REDIS_PORT, "protocol": "TCP"}],
                    "livenessProbe": probe,
                    "readinessProbe": probe,
                    "resources": resources("50m", "64Mi", "500m", "256Mi"),
                    "securityContext": restricted_container_security_context(),
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                }],
                "volumes": [{"name": "data", "emptyDir": {"sizeLimit": "64Mi"}}],
            },
        },
    }
