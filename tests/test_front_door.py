"""The front door (kaito-aks:exposure public): every object against the CRD schema of the version pinned, TLS on
every public listener, no public route without sign-in or an API key, per-team keys and limits from the settings,
the 401 and 429 answers, the demo app and smoke test on the authenticated path, and nothing public when private."""

from __future__ import annotations

import json

import pytest

from components import front_door, gateway_platform
from scripts.offline import ProgramRun
from stacks.settings import ConfigError
from tests.crd_schemas import SCHEMA_OF, validate_custom_resource
from tests.harness import PUBLIC, program, run_failing_program, size_config, size_program, stack_config
from tests.test_kubernetes_security import Internet, Pod, can_connect

TEAMS = {"apiTeams": {"search": {"requestsPerMinute": 10, "tokensPerMinute": 5000},
                      "billing-bot": {"requestsPerMinute": 120, "tokensPerMinute": 400000, "keyVersion": 3}}}
HTTPROUTE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"
POLICY = "kubernetes:gateway.envoyproxy.io/v1alpha1:SecurityPolicy"
LIMITS = "kubernetes:gateway.envoyproxy.io/v1alpha1:BackendTrafficPolicy"
GATEWAY = "kubernetes:gateway.networking.k8s.io/v1:Gateway"
PASSWORD = "random:index/randomPassword:RandomPassword"
OWN_HOSTNAME = "models.contoso.com"


def public(**overrides) -> ProgramRun:
    return size_program("cpu", **{**PUBLIC, **TEAMS, **overrides})


def manifest(resource) -> dict:
    return {key: value for key, value in resource.inputs.items() if key != "__defaults"}


def by_name(run: ProgramRun, type_: str) -> dict[str, dict]:
    return {r.inputs["metadata"]["name"]: manifest(r) for r in run.of_type(type_)}


@pytest.mark.parametrize("which", ["public cpu", "prod"])
def test_every_gateway_object_matches_the_crd_schema_of_the_pinned_version(which):
    run = public() if which == "public cpu" else program(stack_config("prod"), stack="prod", preview=True)
    custom = [r for r in run.resources if r.type.split(":")[1] in {
        "gateway.networking.k8s.io/v1", "gateway.envoyproxy.io/v1alpha1", "aigateway.envoyproxy.io/v1beta1",
        "cert-manager.io/v1", "azmonitoring.coreos.com/v1"}]
    assert {r.type for r in custom} == set(SCHEMA_OF)
    for resource in custom:
        validate_custom_resource(resource.type, manifest(resource))


def test_every_public_listener_is_tls_and_port_80_only_redirects():
    run = public()
    (gateway,) = by_name(run, GATEWAY).values()
    listeners = {listener["name"]: listener for listener in gateway["spec"]["listeners"]}
    assert set(listeners) == {"http", "https"}
    assert listeners["https"]["protocol"] == "HTTPS" and listeners["https"]["port"] == 443
    assert listeners["https"]["tls"] == {"mode": "Terminate",
                                         "certificateRefs": [{"kind": "Secret", "name": front_door.TLS_SECRET}]}
    assert (listeners["http"]["protocol"], listeners["http"]["port"]) == ("HTTP", 80)
    on_http = [route for route in by_name(run, HTTPROUTE).values()
               if any(ref.get("sectionName") == "http" for ref in route["spec"]["parentRefs"])]
    assert [route["metadata"]["name"] for route in on_http] == ["front-door-https-redirect"]
    (rule,) = on_http[0]["spec"]["rules"]
    assert rule == {"filters": [{"type": "RequestRedirect",
                                 "requestRedirect": {"scheme": "https", "statusCode": 301}}]}
    # cert-manager answers the HTTP-01 challenge on that listener and puts the certificate in the TLS Secret.
    assert gateway["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "kaito-aks-letsencrypt-staging"
    (issuer,) = run.of_type("kubernetes:cert-manager.io/v1:ClusterIssuer")
    (solver,) = issuer.inputs["spec"]["acme"]["solvers"]
    assert solver["http01"]["gatewayHTTPRoute"]["parentRefs"][0]["sectionName"] == "http"
    assert issuer.inputs["spec"]["acme"]["server"] == "https://acme-staging-v02.api.letsencrypt.org/directory"
    assert issuer.inputs["spec"]["acme"]["email"] == PUBLIC["acmeEmail"]


def test_no_public_route_without_sign_in_or_an_api_key():
    run = public()
    routes = by_name(run, HTTPROUTE)
    policies = by_name(run, POLICY)
    guarded: dict[str, str] = {}
    for policy in policies.values():
        (target,) = policy["spec"]["targetRefs"]
        kind = "oidc" if "oidc" in policy["spec"] else "apiKeyAuth" if "apiKeyAuth" in policy["spec"] else "none"
        guarded[target["name"]] = kind
    on_https = [name for name, route in routes.items()
                if any(ref.get("sectionName") == "https" for ref in route["spec"]["parentRefs"])]
    # The chat page signs people in; the API route (generated from the AIGatewayRoute of the same name)
    # takes keys. Nothing else is attached to the HTTPS listener.
    assert on_https == ["chat"]
    assert guarded == {"chat": "oidc", "model-api": "apiKeyAuth"}
    (ai_route,) = run.of_type("kubernetes:aigateway.envoyproxy.io/v1beta1:AIGatewayRoute")
    assert ai_route.inputs["metadata"]["name"] == "model-api"
    assert ai_route.inputs["spec"]["parentRefs"][0]["sectionName"] == "https"
    oidc = policies["chat-sign-in"]["spec"]["oidc"]
    assert oidc["provider"]["issuer"] == "https://login.microsoftonline.com/00000000-0000-0000-0000-0000000000bb/v2.0"
    assert oidc["clientID"] == PUBLIC["signInClientId"]
    assert oidc["redirectURL"] == run.outputs["signInRedirectUrl"]
    assert oidc["redirectURL"].startswith("https://")


def test_each_team_gets_its_own_key_and_limits_from_the_settings():
    run = public()
    teams = {"search", "billing-bot", "demo-app", "smoke-test"}
    passwords = {r.name.removeprefix("front-door-api-key-"): r.inputs for r in run.of_type(PASSWORD)}
    assert set(passwords) == teams
    assert passwords["billing-bot"]["keepers"] == {"keyVersion": "3"}
    assert passwords["search"]["keepers"] == {"keyVersion": "1"}
    assert all(p["length"] == 48 and p["special"] is False for p in passwords.values())
    secret = next(r for r in run.of_type("kubernetes:core/v1:Secret") if r.name == "front-door-api-keys")
    assert set(secret.inputs["stringData"]) == teams and "stringData" in secret.secret_paths
    # Only the teams of the settings are handed out; kaito-aks's own keys stay in the cluster.
    assert set(run.outputs["apiKeys"]) == {"search", "billing-bot"} and "apiKeys" in run.secret_outputs
    limits = by_name(run, LIMITS)["model-api-limits"]["spec"]
    rules = limits["rateLimit"]["global"]["rules"]
    by_team: dict[str, list[dict]] = {}
    for rule in rules:
        (selector,) = rule["clientSelectors"]
        (header,) = selector["headers"]
        assert (header["name"], header["type"]) == (gateway_platform.TEAM_HEADER, "Exact")
        by_team.setdefault(header["value"], []).append(rule)
    assert set(by_team) == teams
    search_requests, search_tokens = by_team["search"]
    assert search_requests["limit"] == {"requests": 10, "unit": "Minute"} and "cost" not in search_requests
    assert search_tokens["limit"] == {"requests": 5000, "unit": "Minute"}
    assert search_tokens["cost"] == {
        "request": {"from": "Number", "number": 0},
        "response": {"from": "Metadata", "metadata": {"namespace": "io.envoy.ai_gateway", "key": "llm_total_token"}},
    }
    assert limits["targetRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "model-api"}]


def test_a_bad_key_is_a_401_and_a_team_over_its_limit_a_429_with_retry_after_neither_reaching_the_model():
    run = public()
    keys = by_name(run, POLICY)["model-api-keys"]["spec"]["apiKeyAuth"]
    assert keys["credentialRefs"] == [{"group": "", "kind": "Secret", "name": front_door.API_KEYS_SECRET}]
    assert keys["extractFrom"] == [{"headers": ["authorization"]}, {"headers": ["x-api-key"]}]
    assert keys["forwardClientIDHeader"] == "x-team-id" and keys["sanitize"] is True
    overrides = {o["match"]["statusCodes"][0]["value"]: o for o in by_name(run, LIMITS)["model-api-limits"]["spec"][
        "responseOverride"]}
    assert set(overrides) == {401, 429}
    assert all(o["source"] == "Local" for o in overrides.values())  # Envoy's own answers, never the model's
    assert overrides[429]["response"]["header"] == {"set": [{"name": "Retry-After", "value": "60"}]}
    unauthorized = json.loads(overrides[401]["response"]["body"]["inline"])
    assert unauthorized == {"error": {"message": "missing or invalid API key", "type": "invalid_api_key",
                                      "code": "invalid_api_key"}}


def test_the_demo_app_and_the_smoke_test_call_through_the_front_door_with_their_own_keys():
    run = public()
    for kind, team in (("kubernetes:apps/v1:Deployment", "demo-app"), ("kubernetes:batch/v1:Job", "smoke-test")):
        (workload,) = [r for r in run.of_type(kind) if r.name.startswith(team)]
        spec = workload.inputs["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        env = {item["name"]: item.get("value") for item in container["env"]}
        assert env["INFERENCE_ENDPOINT"] == run.outputs["apiBaseUrl"]
        assert env["INFERENCE_API_KEY_FILE"] == "/var/run/kaito-aks/api-key"
        assert env["INFERENCE_TLS_VERIFY"] == "false"  # the staging issuer's certificate is untrusted by design
        (key_volume,) = [v for v in spec["volumes"] if v["name"] == "api-key"]
        assert key_volume["secret"] == {"secretName": front_door.API_KEYS_SECRET,
                                        "items": [{"key": team, "path": "api-key"}]}
    prod = program(stack_config("prod"), stack="prod", preview=True)
    (container,) = prod.one("kubernetes:batch/v1:Job").inputs["spec"]["template"]["spec"]["containers"]
    assert "INFERENCE_TLS_VERIFY" not in {item["name"] for item in container["env"]}  # a trusted certificate


def test_who_may_reach_whom_with_the_front_door():
    run = public()
    namespace = run.outputs["namespace"]
    proxy = Pod("envoy-gateway-system", {"app.kubernetes.io/name": "envoy", "app.kubernetes.io/component": "proxy",
                                         "gateway.envoyproxy.io/owning-gateway-name": "front-door",
                                         "gateway.envoyproxy.io/owning-gateway-namespace": namespace})
    model = Pod(namespace, {"kaito.sh/workspace": run.outputs["workspaceName"]})
    demo = Pod(namespace, run.named("kubernetes:apps/v1:Deployment", "demo-app-deployment").inputs["spec"]["template"][
        "metadata"]["labels"])
    test = Pod(namespace, run.one("kubernetes:batch/v1:Job").inputs["spec"]["template"]["metadata"]["labels"])
    solver = Pod(namespace, front_door.ACME_SOLVER_LABELS)
    stranger = Pod("default", {"app": "curl"})
    assert can_connect(run, proxy, model, 5000) and can_connect(run, proxy, demo, 8000)
    assert can_connect(run, proxy, solver, 8089) and not can_connect(run, stranger, solver, 8089)
    assert not can_connect(run, stranger, model, 5000)
    # Nobody inside the cluster walks around the sign-in to the chat page (and its API key).
    assert not can_connect(run, stranger, demo, 8000) and not can_connect(run, Pod(namespace, {}), demo, 8000)
    for client in (demo, test):
        # To the gateway's public address, or its proxies where the cluster short-cuts that address.
        assert can_connect(run, client, Internet("20.81.112.7"), 443)
        assert can_connect(run, client, proxy, 10443)
        assert not can_connect(run, client, Internet("20.81.112.7"), 80) and not can_connect(run, client, model, 22)


def test_the_hostname_is_an_azure_label_made_unique_or_the_users_own():
    run = public()
    hostname = run.outputs["frontDoorAzureHostname"]
    label = hostname.split(".")[0]
    assert hostname == f"{label}.eastus.cloudapp.azure.com" and label.startswith("kaito-test-")
    assert len(label) == len("kaito-test-") + 6
    (proxy,) = run.of_type("kubernetes:gateway.envoyproxy.io/v1alpha1:EnvoyProxy")
    service = proxy.inputs["spec"]["provider"]["kubernetes"]["envoyService"]
    assert service["annotations"] == {"service.beta.kubernetes.io/azure-dns-label-name": label}
    assert service["loadBalancerSourceRanges"] == PUBLIC["allowedSourceRanges"]
    assert run.outputs["demoAppUrl"] == f"https://{hostname}/"
    assert run.outputs["apiBaseUrl"] == f"https://{hostname}/openai/v1"
    own = public(hostname=OWN_HOSTNAME)
    (gateway,) = by_name(own, GATEWAY).values()
    assert {listener["hostname"] for listener in gateway["spec"]["listeners"]} == {"models.contoso.com"}
    assert own.outputs["apiBaseUrl"] == "https://models.contoso.com/openai/v1"
    assert own.outputs["frontDoorAzureHostname"].endswith(".eastus.cloudapp.azure.com")  # the CNAME's target


def test_a_private_stack_has_nothing_public():
    run = size_program("cpu")
    assert not [r for r in run.resources if r.type.split(":")[1].startswith(("gateway.", "aigateway.", "cert-manager"))]
    assert not [r for r in run.of_type("kubernetes:helm.sh/v3:Release")]
    services = run.of_type("kubernetes:core/v1:Service")
    assert all(r.inputs["spec"].get("type", "ClusterIP") == "ClusterIP" for r in services)
    assert {"demoAppUrl", "apiBaseUrl", "apiKeys"}.isdisjoint(run.outputs)


def test_rotating_a_teams_key_changes_its_key_alone():
    # On the stack with its own hostname (the hostname test's, shared).
    rotated = {**TEAMS["apiTeams"], "search": {"requestsPerMinute": 10, "tokensPerMinute": 5000, "keyVersion": 2}}
    before, after = public(hostname=OWN_HOSTNAME), public(hostname=OWN_HOSTNAME, apiTeams=rotated)
    changed = [r.name for r in after.resources
               if r.inputs != next(b for b in before.resources if b.urn == r.urn).inputs]
    assert changed == ["front-door-api-key-search"]


def test_the_platform_charts_are_pinned_and_configured_for_each_other():
    run = public()
    releases = {r.inputs["name"]: r for r in run.of_type("kubernetes:helm.sh/v3:Release")}
    assert {name: (r.inputs["chart"], r.inputs["version"]) for name, r in releases.items()} == {
        "eg": ("oci://docker.io/envoyproxy/gateway-helm", "v1.8.3"),
        "aieg-crd": ("oci://docker.io/envoyproxy/ai-gateway-crds-helm", "v1.1.0"),
        "aieg": ("oci://docker.io/envoyproxy/ai-gateway-helm", "v1.1.0"),
        "cert-manager": ("oci://quay.io/jetstack/charts/cert-manager", "v1.21.1"),
    }
    envoy = releases["eg"].inputs["values"]["config"]["envoyGateway"]
    redis = next(r for r in run.of_type("kubernetes:core/v1:Service") if r.name == "gateway-platform-redis")
    assert envoy["rateLimit"]["backend"]["redis"]["url"] == (
        f"{redis.inputs['metadata']['name']}.{redis.inputs['metadata']['namespace']}.svc.cluster.local:6379")
    assert envoy["extensionApis"]["enableBackend"] is True
    assert envoy["extensionManager"]["service"]["fqdn"] == {
        "hostname": "ai-gateway-controller.envoy-ai-gateway-system.svc.cluster.local", "port": 1063}
    assert releases["aieg"].inputs["values"] == {"endpointConfig": {"rootPrefix": "/openai"},
                                                "controller": {"metricsRequestHeaderAttributes": "x-team-id:team.id"}}
    assert releases["cert-manager"].inputs["values"]["config"]["gatewayAPI"] == {"enabled": True}
    # cert-manager checks for the Gateway API CRDs once, at start: after Envoy Gateway's chart.
    assert releases["eg"].urn in releases["cert-manager"].dependencies
    assert releases["aieg-crd"].urn in releases["aieg"].dependencies


@pytest.mark.parametrize(("overrides", "fragments"), [
    ({"apiTeams": {"Bad_Team": {"requestsPerMinute": 1, "tokensPerMinute": 1}}}, ["team 'Bad_Team' is not a team"]),
    ({"apiTeams": {"demo-app": {"requestsPerMinute": 1, "tokensPerMinute": 1}}}, ["team 'demo-app' is kaito-aks's"]),
    ({"apiTeams": {"ok": {"requestsPerMinute": 0, "tokensPerMinute": 1}}}, ["at least 1"]),
    ({"apiTeams": {"ok": {"requestsPerMinute": 1}}}, ["team 'ok' needs requestsPerMinute and tokensPerMinute"]),
    ({"exposure": "private", "apiTeams": {"ok": {"requestsPerMinute": 1, "tokensPerMinute": 1}}},
     ["kaito-aks:apiTeams is set but kaito-aks:exposure is private"]),
    ({"acmeEmail": None}, ["kaito-aks:acmeEmail is not set"]),
    ({"signInClientId": None}, ["kaito-aks:signInClientId is not set", "kaito-aks:demoApp false"]),
    ({"hostname": "Models.Example"}, ["kaito-aks:hostname 'Models.Example' is not a fully qualified DNS name"]),
])
def test_bad_front_door_settings_are_refused_before_any_resource(overrides, fragments):
    config = {**PUBLIC, **overrides}
    config = {key: value for key, value in config.items() if value is not None}
    error, registered = run_failing_program(size_config("cpu", **config))
    assert isinstance(error, ConfigError), repr(error)
    for fragment in fragments:
        assert fragment in str(error), str(error)
    assert registered == []
