"""FrontDoor: the stack's public entrance (kaito-aks:exposure public), on the GatewayPlatform.

One hostname, two doors, HTTPS only:
- `/`: the chat page, behind Entra ID sign-in (an Envoy Gateway SecurityPolicy with OIDC;
  envoyproxy/gateway@v1.8.3:api/v1alpha1/oidc_types.go; Entra's issuer is https://login.microsoftonline.com/
  <tenant>/v2.0, envoyproxy/gateway@v1.9.0:site/content/en/v1.9/tasks/security/oidc.md "Azure Entra").
- `/openai/v1/...`: the model's OpenAI-compatible API (an Envoy AI Gateway AIGatewayRoute), for programs, with an
  API key per team (SecurityPolicy apiKeyAuth: a Secret whose keys are team names and values their keys; the key
  is read from `Authorization: Bearer` or `x-api-key`, removed before the model, and the team written to
  x-team-id; envoyproxy/gateway@v1.8.3:api/v1alpha1/api_key_auth_types.go). A wrong or missing key is a 401 with
  no detail; a team over its requests or tokens per minute gets a 429 with Retry-After (global rate limits,
  tokens counted by AI Gateway from each response; envoyproxy/ai-gateway@v1.1.0:examples/token_ratelimit/
  token_ratelimit.yaml). Neither reaches the model.
Port 80 only redirects to HTTPS and answers Let's Encrypt's HTTP-01 challenge (cert-manager creates that route
with an exact path, which wins over the redirect's prefix). The hostname is an Azure DNS label on the gateway's
public IP (<label>.<region>.cloudapp.azure.com, the label made unique with pulumi-random), or a hostname of the
user's pointed at it. The load balancer admits only kaito-aks:allowedSourceRanges.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.gateway_platform import API_ROOT_PREFIX, TEAM_HEADER
from components.kubernetes import inherited_dependencies

GATEWAY_NAME = "front-door"
TLS_SECRET = "front-door-tls"
API_KEYS_SECRET = "model-api-keys"
SIGN_IN_SECRET = "front-door-sign-in"
API_ROUTE = "model-api"
CHAT_ROUTE = "chat"
ACME_SERVERS = {
    "letsencrypt": "https://acme-v02.api.letsencrypt.org/directory",
    "letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
}
# cert-manager's HTTP-01 solver pods (cert-manager/cert-manager@v1.21.1:pkg/issuer/acme/http/pod.go labels them
# acme.cert-manager.io/http01-solver=true) listen on 8089; the namespace denies ingress unless allowed.
ACME_SOLVER_LABELS = {"acme.cert-manager.io/http01-solver": "true"}
ACME_SOLVER_PORT = 8089
# What Envoy Gateway labels its proxy pods with (envoyproxy/gateway@v1.8.3:internal/infrastructure/kubernetes/
# proxy/resource.go EnvoyAppLabel, and the owning-Gateway labels of internal/gatewayapi/translator.go).
PROXY_NAMESPACE_LABEL = "gateway.envoyproxy.io/owning-gateway-namespace"
# Per-minute limits: a client told to wait a minute always finds a fresh window.
RETRY_AFTER_SECONDS = 60
API_KEY_LENGTH = 48


@dataclass(frozen=True)
class TeamAccess:
    requests_per_minute: int
    tokens_per_minute: int
    key_version: int = 1


@dataclass(frozen=True)
class SignIn:
    """The Entra ID app registration the chat page signs people in with."""

    tenant_id: pulumi.Input[str]
    client_id: str
    client_secret: pulumi.Input[str]


@dataclass(frozen=True)
class RoutedModel:
    """One model behind the API: requests that name `model` go to `host`."""

    model: str
    """The model id requests name (AIGatewayRoute routes by it)."""
    host: str
    """In-cluster DNS name of the model's Service (port 80)."""
    backend: str = "model"
    """Name of its Backend and AIServiceBackend ("model" for the stack's own, as before there could be several)."""


@dataclass(frozen=True)
class FrontDoorArgs:
    namespace: pulumi.Input[str]
    """The stack's namespace: the Gateway, its routes and policies live with the model and the app."""
    gateway_class_name: str
    gateway_namespace: str
    """Where Envoy Gateway runs the gateway's proxies."""
    location: str
    """Azure region: part of the cloudapp.azure.com hostname."""
    label_prefix: str
    """Start of the Azure DNS label (a random suffix makes it unique in the region)."""
    models: Sequence[RoutedModel]
    """The stack's models, each reached by its id under one API."""
    teams: Mapping[str, TeamAccess]
    """Who may call the API: team name -> limits; kaito-aks's own clients included."""
    tls_issuer: str
    acme_email: str
    allowed_source_ranges: Sequence[str]
    hostname: str | None = None
    """A hostname of the user's (CNAME to the Azure one); None: the Azure hostname."""
    chat_service: str | None = None
    """The demo app's Service (port 80), behind sign-in at "/"; None: no chat page."""
    sign_in: SignIn | None = None
    labels: Mapping[str, str] = field(default_factory=dict)


class FrontDoor(pulumi.ComponentResource):
    """Gateway, certificate issuer, routes, sign-in, API keys and limits. The provider comes through `opts`."""

    hostname: pulumi.Output[str]
    azure_hostname: pulumi.Output[str]
    url: pulumi.Output[str]
    api_base_url: pulumi.Output[str]
    sign_in_redirect_url: pulumi.Output[str]
    api_keys: dict[str, pulumi.Output[str]]
    """Team -> its API key (secret)."""
    api_keys_secret: str
    proxy_pods: dict[str, Any]
    """A NetworkPolicy peer selecting the gateway's proxy pods."""

    def __init__(self, name: str, args: FrontDoorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kaito-aks:front_door:FrontDoor", name, {}, opts)
        after = inherited_dependencies(opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=after)
        labels = dict(args.labels)

        suffix = random.RandomString(
            f"{name}-dns-label", length=6, special=False, upper=False, numeric=True,
            # Made once and kept in state: the hostname stays the same for the stack's life.
            opts=pulumi.ResourceOptions(parent=self),
        )
        label = suffix.result.apply(lambda text: dns_label(args.label_prefix, text))
        self.azure_hostname = label.apply(lambda text: f"{text}.{args.location}.cloudapp.azure.com")
        self.hostname = pulumi.Output.from_input(args.hostname) if args.hostname else self.azure_hostname
        self.url = self.hostname.apply(lambda host: f"https://{host}/")
        self.api_base_url = self.hostname.apply(lambda host: f"https://{host}{API_ROOT_PREFIX}/v1")
        self.sign_in_redirect_url = self.hostname.apply(lambda host: f"https://{host}/oauth2/callback")

        def custom(resource: str, api_version: str, kind: str, metadata: Mapping[str, Any], spec: Any,
                   depends_on: Sequence[pulumi.Resource] = ()) -> k8s.apiextensions.CustomResource:
            return k8s.apiextensions.CustomResource(
                f"{name}-{resource}", api_version=api_version, kind=kind,
                metadata={"labels": labels, **metadata}, spec=spec,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[*after, *depends_on]),
            )

        in_namespace = {"namespace": args.namespace}
        proxy = custom("envoy-proxy", "gateway.envoyproxy.io/v1alpha1", "EnvoyProxy",
                       {"name": GATEWAY_NAME, **in_namespace}, envoy_proxy_spec(label, args.allowed_source_ranges))
        issuer_name = f"kaito-aks-{args.tls_issuer}"
        issuer = custom("issuer", "cert-manager.io/v1", "ClusterIssuer", {"name": issuer_name},
                        cluster_issuer_spec(args.tls_issuer, args.acme_email, args.namespace))
        gateway = custom("gateway", "gateway.networking.k8s.io/v1", "Gateway",
                         {"name": GATEWAY_NAME, **in_namespace,
                          # cert-manager's gateway-shim requests the HTTPS listener's certificate from this issuer.
                          "annotations": {"cert-manager.io/cluster-issuer": issuer_name}},
                         gateway_spec(args.gateway_class_name, self.hostname), depends_on=[proxy, issuer])
        on_gateway = [gateway]
        custom("https-redirect", "gateway.networking.k8s.io/v1", "HTTPRoute",
               {"name": "front-door-https-redirect", **in_namespace}, redirect_route_spec(self.hostname),
               depends_on=on_gateway)

        if args.chat_service is not None:
            if args.sign_in is None:
                raise ValueError("a chat page behind the front door needs sign-in")
            chat = custom("chat-route", "gateway.networking.k8s.io/v1", "HTTPRoute",
                          {"name": CHAT_ROUTE, **in_namespace}, chat_route_spec(self.hostname, args.chat_service),
                          depends_on=on_gateway)
            sign_in_secret = k8s.core.v1.Secret(
                f"{name}-sign-in",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=SIGN_IN_SECRET, namespace=args.namespace, labels=labels),
                type="Opaque",
                string_data={"client-secret": pulumi.Output.secret(args.sign_in.client_secret)},
                opts=child,
            )
            custom("chat-sign-in", "gateway.envoyproxy.io/v1alpha1", "SecurityPolicy",
                   {"name": "chat-sign-in", **in_namespace},
                   sign_in_policy_spec(args.sign_in, self.sign_in_redirect_url), depends_on=[chat, sign_in_secret])

        service_backends = []
        for routed in args.models:
            backend = custom(f"{routed.backend}-backend", "gateway.envoyproxy.io/v1alpha1", "Backend",
                             {"name": routed.backend, **in_namespace},
                             {"endpoints": [{"fqdn": {"hostname": routed.host, "port": 80}}]})
            service_backends.append(custom(
                f"{routed.backend}-service-backend", "aigateway.envoyproxy.io/v1beta1", "AIServiceBackend",
                {"name": routed.backend, **in_namespace},
                {"schema": {"name": "OpenAI"},
                 "backendRef": {"name": routed.backend, "kind": "Backend", "group": "gateway.envoyproxy.io"}},
                depends_on=[backend]))
        route = custom("model-api-route", "aigateway.envoyproxy.io/v1beta1", "AIGatewayRoute",
                       {"name": API_ROUTE, **in_namespace}, ai_route_spec(args.models),
                       depends_on=[*on_gateway, *service_backends])

        self.api_keys = {}
        for team, access in sorted(args.teams.items()):
            key = random.RandomPassword(
                f"{name}-api-key-{team}", length=API_KEY_LENGTH, special=False,
                # A new keyVersion makes a new key; nothing else about the team or the model changes.
                keepers={"keyVersion": str(access.key_version)},
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.api_keys[team] = pulumi.Output.secret(key.result)
        keys_secret = k8s.core.v1.Secret(
            f"{name}-api-keys",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=API_KEYS_SECRET, namespace=args.namespace, labels=labels),
            type="Opaque",
            string_data=self.api_keys,
            opts=child,
        )
        custom("model-api-keys", "gateway.envoyproxy.io/v1alpha1", "SecurityPolicy",
               {"name": "model-api-keys", **in_namespace}, api_key_policy_spec(), depends_on=[route, keys_secret])
        custom("model-api-limits", "gateway.envoyproxy.io/v1alpha1", "BackendTrafficPolicy",
               {"name": "model-api-limits", **in_namespace}, limits_policy_spec(args.teams), depends_on=[route])
        k8s.networking.v1.NetworkPolicy(
            f"{name}-acme-solver",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="acme-http01-solver", namespace=args.namespace, labels=labels),
            spec={"podSelector": {"matchLabels": ACME_SOLVER_LABELS}, "policyTypes": ["Ingress"],
                  "ingress": [{"from": [self_proxy_peer(args.gateway_namespace, args.namespace)],
                               "ports": [{"port": ACME_SOLVER_PORT, "protocol": "TCP"}]}]},
            opts=child,
        )
        self.api_keys_secret = API_KEYS_SECRET
        self.proxy_pods = self_proxy_peer(args.gateway_namespace, args.namespace)
        self.register_outputs({"url": self.url, "apiBaseUrl": self.api_base_url, "hostname": self.hostname})


def dns_label(prefix: str, suffix: str) -> str:
    """An Azure public IP DNS label: 3-63 characters, a letter first, lower-case letters, digits and '-'."""
    head = "".join(ch if ch.isalnum() else "-" for ch in prefix.lower()).strip("-") or "kaito"
    if not head[0].isalpha():
        head = f"k{head}"
    return f"{head[:63 - len(suffix) - 1]}-{suffix}"


def self_proxy_peer(gateway_namespace: str, namespace: pulumi.Input[str]) -> dict[str, Any]:
    """The front door's proxy pods, as a NetworkPolicy peer."""
    return {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": gateway_namespace}},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "envoy", "app.kubernetes.io/component": "proxy",
                                        "gateway.envoyproxy.io/owning-gateway-name": GATEWAY_NAME,
                                        PROXY_NAMESPACE_LABEL: namespace}},
    }


def envoy_proxy_spec(dns_label_name: pulumi.Input[str], source_ranges: Sequence[str]) -> dict[str, Any]:
    """The gateway's Service: Azure gives its public IP the DNS label; the load balancer admits only the ranges
    (EnvoyProxy spec.provider.kubernetes.envoyService, envoyproxy/gateway@v1.8.3:api/v1alpha1/shared_types.go)."""
    return {"provider": {"type": "Kubernetes", "kubernetes": {"envoyService": {
        "annotations": {"service.beta.kubernetes.io/azure-dns-label-name": dns_label_name},
        "loadBalancerSourceRanges": list(source_ranges),
        # The default, stated: client addresses reach the proxies unchanged, so the ranges hold.
        "externalTrafficPolicy": "Local",
    }}}}


def cluster_issuer_spec(issuer: str, email: str, gateway_namespace: pulumi.Input[str]) -> dict[str, Any]:
    """Let's Encrypt through the HTTP-01 challenge on the gateway's port-80 listener (cert-manager/cert-manager@
    v1.21.1:pkg/apis/acme/v1/types_issuer.go ACMEChallengeSolverHTTP01GatewayHTTPRoute; the namespace is given so
    cert-manager does not add a second parentRef of its own)."""
    return {"acme": {
        "server": ACME_SERVERS[issuer],
        "email": email,
        "privateKeySecretRef": {"name": f"kaito-aks-{issuer}-account-key"},
        "solvers": [{"http01": {"gatewayHTTPRoute": {
            "serviceType": "ClusterIP",
            "parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": GATEWAY_NAME,
                            "namespace": gateway_namespace, "sectionName": "http"}],
        }}}],
    }}


def gateway_spec(gateway_class: str, hostname: pulumi.Input[str]) -> dict[str, Any]:
    return {
        "gatewayClassName": gateway_class,
        "infrastructure": {"parametersRef": {"group": "gateway.envoyproxy.io", "kind": "EnvoyProxy",
                                             "name": GATEWAY_NAME}},
        "listeners": [
            {"name": "http", "protocol": "HTTP", "port": 80, "hostname": hostname,
             "allowedRoutes": {"namespaces": {"from": "Same"}}},
            {"name": "https", "protocol": "HTTPS", "port": 443, "hostname": hostname,
             "tls": {"mode": "Terminate", "certificateRefs": [{"kind": "Secret", "name": TLS_SECRET}]},
             "allowedRoutes": {"namespaces": {"from": "Same"}}},
        ],
    }


def parent(section: str) -> list[dict[str, Any]]:
    return [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": GATEWAY_NAME, "sectionName": section}]


def redirect_route_spec(hostname: pulumi.Input[str]) -> dict[str, Any]:
    return {"parentRefs": parent("http"), "hostnames": [hostname], "rules": [{
        "filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}]}]}


def chat_route_spec(hostname: pulumi.Input[str], service: str) -> dict[str, Any]:
    return {"parentRefs": parent("https"), "hostnames": [hostname], "rules": [{
        "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
        "backendRefs": [{"kind": "Service", "name": service, "port": 80}]}]}


def sign_in_policy_spec(sign_in: SignIn, redirect_url: pulumi.Input[str]) -> dict[str, Any]:
    return {
        "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": CHAT_ROUTE}],
        "oidc": {
            "provider": {"issuer": pulumi.Output.concat("https://login.microsoftonline.com/", sign_in.tenant_id,
                                                        "/v2.0")},
            "clientID": sign_in.client_id,
            "clientSecret": {"name": SIGN_IN_SECRET},
            "redirectURL": redirect_url,
            "logoutPath": "/logout",
        },
    }


def ai_route_spec(models: Sequence[RoutedModel]) -> dict[str, Any]:
    """A rule per model: AI Gateway reads the request body's model into x-ai-eg-model and routes by it."""
    return {
        "parentRefs": parent("https"),
        "rules": [{"matches": [{"headers": [{"type": "Exact", "name": "x-ai-eg-model", "value": routed.model}]}],
                   "backendRefs": [{"name": routed.backend}]} for routed in models],
        # Tokens of each response, for the token limits and the usage metrics.
        "llmRequestCosts": [{"metadataKey": "llm_input_token", "type": "InputToken"},
                            {"metadataKey": "llm_output_token", "type": "OutputToken"},
                            {"metadataKey": "llm_total_token", "type": "TotalToken"}],
    }


def api_key_policy_spec() -> dict[str, Any]:
    # The route AI Gateway generates carries the AIGatewayRoute's name (envoyproxy/ai-gateway@v1.1.0:api/v1beta1/
    # ai_gateway_route.go) and ends in a catch-all under /openai, so the key is asked for on every API path.
    return {
        "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": API_ROUTE}],
        "apiKeyAuth": {
            "credentialRefs": [{"group": "", "kind": "Secret", "name": API_KEYS_SECRET}],
            "extractFrom": [{"headers": ["authorization"]}, {"headers": ["x-api-key"]}],
            "forwardClientIDHeader": TEAM_HEADER,
            "sanitize": True,
        },
    }


def limits_policy_spec(teams: Mapping[str, TeamAccess]) -> dict[str, Any]:
    """Per team: requests per minute, and tokens per minute charged from each response's token count. Over
    either, a 429 with Retry-After; the answers Envoy makes itself (401, 429) carry an OpenAI-style error."""
    rules = []
    for name, access in sorted(teams.items()):
        team = [{"headers": [{"name": TEAM_HEADER, "type": "Exact", "value": name}]}]
        rules.append({"clientSelectors": team, "limit": {"requests": access.requests_per_minute, "unit": "Minute"}})
        rules.append({
            "clientSelectors": team,
            "limit": {"requests": access.tokens_per_minute, "unit": "Minute"},
            # Checked before the request (cost 0), charged with the response's tokens after it.
            "cost": {"request": {"from": "Number", "number": 0},
                     "response": {"from": "Metadata",
                                  "metadata": {"namespace": "io.envoy.ai_gateway", "key": "llm_total_token"}}},
        })
    return {
        "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": API_ROUTE}],
        "rateLimit": {"global": {"rules": rules}},
        "responseOverride": [
            local_error(429, "rate_limit_exceeded", "your team's request or token limit for this minute is used up",
                        {"Retry-After": str(RETRY_AFTER_SECONDS)}),
            local_error(401, "invalid_api_key", "missing or invalid API key"),
        ],
    }


def local_error(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """An OpenAI-style error body for an answer Envoy gives itself (source Local: never the model's own)."""
    response: dict[str, Any] = {
        "contentType": "application/json",
        "body": {"type": "Inline", "inline": json.dumps({"error": {"message": message, "type": code, "code": code}})},
    }
    if headers:
        response["header"] = {"set": [{"name": key, "value": value} for key, value in headers.items()]}
    return {"match": {"statusCodes": [{"type": "Value", "value": status}]}, "source": "Local", "response": response}
