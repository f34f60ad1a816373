"""Several models per stack (kaito-aks:additionalModels): each its own Workspace or InferenceSet, Service, policy,
smoke test, metrics, alerts, cost line, quota and endpoint, in the namespace of the stack's own model, whose
resources keep the URNs they had before. Checked against KAITO's and the gateway's CRD schemas at the pinned
versions."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from components.workspace import CREATED_BY_LABEL, MODEL_PORT
from stacks import cost, preflight, prices
from stacks.settings import ConfigError
from tests.crd_schemas import validate_custom_resource
from tests.fake_azure import FakeAzure
from tests.harness import PUBLIC, WORKSPACE, run_failing_program, settings_of, size_config, size_program
from tests.test_front_door import TEAMS
from tests.test_kubernetes_security import Pod, can_connect

HERE = Path(__file__).parent
WORKSPACE_0_12 = json.loads((HERE / "schemas" / "workspace-v1beta1-v0.12.0.strict.schema.json").read_text())
INFERENCE_SET_0_12 = json.loads((HERE / "schemas" / "inferenceset-v1beta1-v0.12.0.strict.schema.json").read_text())
INFERENCE_SET = "kubernetes:kaito.sh/v1beta1:InferenceSet"
POD_MONITOR = "kubernetes:azmonitoring.coreos.com/v1:PodMonitor"
RULES = "azure-native:alertsmanagement:PrometheusRuleGroup"
JOB = "kubernetes:batch/v1:Job"
NAMESPACE = "kubernetes:core/v1:Namespace"
ROUTE = "kubernetes:aigateway.envoyproxy.io/v1beta1:AIGatewayRoute"
BACKEND = "kubernetes:gateway.envoyproxy.io/v1alpha1:Backend"
# The upstream small stack (Qwen3-8B-AWQ on an A10) plus a CPU model and a GPU model of up to two copies.
MORE = {"ws-cpu": {"model": "qwen2.5-0.5b-instruct", "modelSize": "cpu"},
        "ws-phi": {"model": "microsoft/Phi-4-mini-instruct", "maxReplicas": 2}}


def several(**overrides):
    return size_program("small", "upstream", additionalModels=MORE, **overrides)


def manifest(resource) -> dict:
    return {key: value for key, value in resource.inputs.items() if key != "__defaults"}


def by_workspace(run, type_: str) -> dict[str, dict]:
    return {r.inputs["metadata"]["name"]: manifest(r) for r in run.of_type(type_)}


def test_each_model_gets_the_kaito_object_its_copies_need_valid_for_kaito_0_12():
    run = several()
    workspaces, inference_sets = by_workspace(run, WORKSPACE), by_workspace(run, INFERENCE_SET)
    assert set(workspaces) == {"ws-qwen-qwen3-8b-awq", "ws-cpu"} and set(inference_sets) == {"ws-phi"}
    for workspace in workspaces.values():
        jsonschema.validate(workspace, WORKSPACE_0_12)
    jsonschema.validate(inference_sets["ws-phi"], INFERENCE_SET_0_12)
    assert workspaces["ws-qwen-qwen3-8b-awq"]["inference"]["preset"]["name"] == "Qwen/Qwen3-8B-AWQ"
    assert "template" in workspaces["ws-cpu"]["inference"]  # llama.cpp, sized for its own D-series VM
    assert workspaces["ws-cpu"]["resource"]["instanceType"].startswith("Standard_D")
    phi = inference_sets["ws-phi"]["spec"]["template"]
    assert (phi["inference"]["preset"]["name"], phi["resource"]["instanceType"]) == (
        "microsoft/Phi-4-mini-instruct", "Standard_NV36ads_A10_v5")
    # Every model's nodes are its own: KAITO keys the node pool on the labelSelector.
    selectors = [w["resource"]["labelSelector"]["matchLabels"]["apps"] for w in workspaces.values()]
    assert sorted([*selectors, inference_sets["ws-phi"]["spec"]["labelSelector"]["matchLabels"]["apps"]]) == [
        "ws-cpu", "ws-phi", "ws-qwen-qwen3-8b-awq"]
    # One namespace, made once, strict enough for all; the scaler comes once, for the model that scales.
    (namespace,) = [r for r in run.of_type(NAMESPACE) if r.inputs["metadata"]["name"] == "kaito"]
    assert namespace.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
    assert {r.inputs["name"] for r in run.of_type("kubernetes:helm.sh/v3:Release")} >= {"keda", "keda-kaito-scaler"}


def test_the_stack_s_own_model_keeps_every_resource_it_had():
    # No replacement for a stack that adds a model: its resources' URNs are those of the single-model stack.
    alone, together = size_program("small", "upstream"), several()
    assert {r.urn for r in alone.resources} <= {r.urn for r in together.resources}
    assert together.outputs["inferenceEndpoint"] == alone.outputs["inferenceEndpoint"]
    assert together.outputs["workspaceName"] == alone.outputs["workspaceName"]
    added = {r.name for r in together.resources} - {r.name for r in alone.resources}
    assert {"model-ws-cpu", "model-ws-phi", "smoke-test-ws-cpu", "smoke-test-ws-phi"} <= added
    assert not [name for name in added if name.startswith("model-ns") or name.endswith("default-deny-ingress")]


def test_each_model_has_its_endpoint_output_and_its_own_smoke_test():
    run = several()
    extra = run.outputs["additionalModels"]
    assert set(extra) == {"ws-cpu", "ws-phi"}
    assert extra["ws-cpu"]["inferenceEndpoint"] == "http://ws-cpu.kaito.svc.cluster.local/v1"
    assert extra["ws-phi"]["inferenceEndpoint"] == "http://ws-phi-replicas.kaito.svc.cluster.local/v1"
    assert (extra["ws-phi"]["model"], extra["ws-cpu"]["instanceType"]) == (
        "microsoft/Phi-4-mini-instruct", run.named(WORKSPACE, "model-ws-cpu-workspace").inputs["resource"][
            "instanceType"])
    asked = {}
    for job in run.of_type(JOB):
        env = {e["name"]: e["value"] for e in job.inputs["spec"]["template"]["spec"]["containers"][0]["env"]}
        asked[env["MODEL"]] = env["INFERENCE_ENDPOINT"]
    assert asked == {"Qwen/Qwen3-8B-AWQ": run.outputs["inferenceEndpoint"],
                     "qwen2.5-0.5b-instruct": extra["ws-cpu"]["inferenceEndpoint"],
                     "microsoft/Phi-4-mini-instruct": extra["ws-phi"]["inferenceEndpoint"]}
    # Each test waits for its own model, not for the others.
    phi_test = run.named(JOB, "smoke-test-ws-phi-job")
    assert run.named(INFERENCE_SET, "model-ws-phi-inference-set").urn in phi_test.dependencies
    assert run.named(WORKSPACE, "model-workspace").urn not in phi_test.dependencies
    assert run.named(WORKSPACE, "model-ws-cpu-workspace").urn not in phi_test.dependencies


def test_each_model_is_reached_only_by_its_clients_and_each_smoke_test_only_reaches_its_model():
    run = several()
    jobs = {r.name: r.inputs["spec"]["template"]["metadata"]["labels"] for r in run.of_type(JOB)}
    tests = {name: Pod("kaito", labels) for name, labels in jobs.items()}
    models = {"ws-qwen-qwen3-8b-awq": Pod("kaito", {"kaito.sh/workspace": "ws-qwen-qwen3-8b-awq"}),
              "ws-cpu": Pod("kaito", {"kaito.sh/workspace": "ws-cpu"}),
              "ws-phi": Pod("kaito", {CREATED_BY_LABEL: "ws-phi", "apps.kubernetes.io/pod-index": "0"})}
    own = {"smoke-test-job": "ws-qwen-qwen3-8b-awq", "smoke-test-ws-cpu-job": "ws-cpu",
           "smoke-test-ws-phi-job": "ws-phi"}
    for test, pod in tests.items():
        for workspace, model in models.items():
            assert can_connect(run, pod, model, MODEL_PORT) == (own[test] == workspace), (test, workspace)
    stranger = Pod("kaito", {"app": "stranger"})
    assert not any(can_connect(run, stranger, model, MODEL_PORT) for model in models.values())


def test_each_model_is_scraped_and_watched_on_its_own_series():
    run = several()
    monitors = {m.inputs["metadata"]["name"]: manifest(m) for m in run.of_type(POD_MONITOR)}
    for name, workspace in (("kaito-model", "ws-qwen-qwen3-8b-awq"), ("kaito-model-ws-cpu", "ws-cpu"),
                            ("kaito-model-ws-phi", "ws-phi")):
        validate_custom_resource(POD_MONITOR, monitors[name])
        (endpoint,) = monitors[name]["spec"]["podMetricsEndpoints"]
        assert {"action": "replace", "targetLabel": "kaito_workspace", "replacement": workspace} in endpoint[
            "relabelings"]
    groups = {g.inputs["ruleGroupName"]: g.inputs["rules"] for g in run.of_type(RULES)}
    cluster = run.outputs["clusterName"]
    assert set(groups) == {f"kaito-aks-model-{cluster}", f"kaito-aks-model-{cluster}-ws-cpu",
                           f"kaito-aks-model-{cluster}-ws-phi"}
    cpu_alerts = {rule["alert"] for rule in groups[f"kaito-aks-model-{cluster}-ws-cpu"]}
    assert cpu_alerts == {"ModelNotServing"}  # llama.cpp has no latency, error or KV-cache metrics
    for rule in groups[f"kaito-aks-model-{cluster}-ws-phi"]:
        assert 'kaito_workspace="ws-phi"' in rule["expression"] and rule["labels"]["workspace"] == "ws-phi"
    # The GPU exporter runs on the nodes of both GPU models (not on the CPU model's).
    (daemonset,) = run.of_type("kubernetes:apps/v1:DaemonSet")
    terms = daemonset.inputs["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    apps = sorted(e["values"][0] for term in terms for e in term["matchExpressions"] if e["key"] == "apps")
    assert apps == ["ws-phi", "ws-qwen-qwen3-8b-awq"]


def test_the_estimate_has_a_line_per_model_and_the_most_copies_beside_it():
    settings = settings_of(size_config("small", "upstream", additionalModels=MORE))
    estimate = cost.estimate(settings)
    lines = {line.workspace: line for line in estimate.lines if line.workspace}
    assert set(lines) == {"ws-qwen-qwen3-8b-awq", "ws-cpu", "ws-phi"}
    assert all(line.item == f"model nodes of {name}" for name, line in lines.items())
    alone = cost.estimate(settings_of(size_config("small", "upstream")))
    extra = lines["ws-cpu"].usd_per_hour + lines["ws-phi"].usd_per_hour
    run = several()
    assert run.outputs["estimatedHourlyCostUsd"] == round(alone.hourly_usd + extra, 4)
    phi_copy = prices.usd_per_hour("Standard_NV36ads_A10_v5", "eastus")
    assert run.outputs["estimatedHourlyCostUsdAtMaxReplicas"] == round(alone.hourly_usd + extra + phi_copy, 4)
    assert "with 2 of ws-phi while demand lasts" in run.outputs["estimatedCostBasis"]


def test_preflight_counts_every_model_against_the_quota_in_order():
    azure = FakeAzure()
    # The A10 family has room for the stack's own model (36 vCPUs) and not for ws-phi's two copies as well.
    azure.set_usage("StandardNVADSA10v5Family", 0, 72)
    settings = settings_of(size_config("small", "upstream", additionalModels=MORE))
    report = preflight.run_preflight(settings, azure, "00000000-0000-0000-0000-0000000000aa",
                                     sleep=lambda seconds: None)
    assert report.chosen == "Standard_NV36ads_A10_v5"
    assert [checked.model.workspace_name for checked in report.every_model] == [
        "ws-qwen-qwen3-8b-awq", "ws-cpu", "ws-phi"]
    failed = report.first_failure
    assert failed is not None and failed.model.workspace_name == "ws-phi"
    first = failed.home.checks[0]
    assert (first.size, first.nodes) == ("Standard_NV36ads_A10_v5", 2)
    # 72 of its own, and the 36 the stack's model holds in the same family: 108 on a limit of 72.
    assert first.problems == ["StandardNVADSA10v5Family quota 0/72 vCPUs has no room for 108 more"]
    message = failed.failure_message()
    assert "no VM size for microsoft/Phi-4-mini-instruct" in message
    assert "Counted with the nodes of Qwen/Qwen3-8B-AWQ, qwen2.5-0.5b-instruct" in message
    assert "pulumi config set --path 'kaito-aks:additionalModels.ws-phi.modelSize' cpu" in message
    azure.set_usage("StandardNVADSA10v5Family", 0, 108)
    ok = preflight.run_preflight(settings, azure, "00000000-0000-0000-0000-0000000000aa", sleep=lambda seconds: None)
    assert ok.first_failure is None


def test_the_api_routes_each_model_by_its_id_to_its_own_service():
    alone = size_program("cpu", **{**PUBLIC, **TEAMS})
    run = size_program("cpu", **{**PUBLIC, **TEAMS}, additionalModels={"ws-phi": {
        "model": "phi-4-mini-instruct", "modelSize": "small"}})
    assert {r.urn for r in alone.resources} <= {r.urn for r in run.resources}
    (route,) = run.of_type(ROUTE)
    validate_custom_resource(ROUTE, manifest(route))
    rules = {rule["matches"][0]["headers"][0]["value"]: rule["backendRefs"][0]["name"]
             for rule in route.inputs["spec"]["rules"]}
    assert rules == {"qwen2.5-0.5b-instruct": "model", "phi-4-mini-instruct": "model-ws-phi"}
    hosts = {b.inputs["metadata"]["name"]: b.inputs["spec"]["endpoints"][0]["fqdn"]["hostname"]
             for b in run.of_type(BACKEND)}
    assert hosts["model-ws-phi"] == "ws-phi.kaito.svc.cluster.local"
    for backend in run.of_type(BACKEND):
        validate_custom_resource(BACKEND, manifest(backend))
    # Both smoke tests go through the front door, each asking for its own model by id.
    models = sorted(next(e["value"] for e in j.inputs["spec"]["template"]["spec"]["containers"][0]["env"]
                         if e["name"] == "MODEL") for j in run.of_type(JOB))
    assert models == ["phi-4-mini-instruct", "qwen2.5-0.5b-instruct"]
    assert run.outputs["additionalModels"]["ws-phi"]["inferenceEndpoint"] == "http://ws-phi.kaito.svc.cluster.local/v1"


@pytest.mark.parametrize(("more", "expected"), [
    ({"ws-a": {"model": "phi-4-mini-instruct", "maxReplicas": 2}},
     "kaito-aks:additionalModels.ws-a.maxReplicas '2' needs KAITO's InferenceSet, which the AKS AI toolchain "
     "operator add-on (KAITO 0.6.0) does not have"),
    ({"ws-a": {"model": "qwen2.5-0.5b-instruct"}},
     "kaito-aks:additionalModels.ws-a.model 'qwen2.5-0.5b-instruct' is served already (by the stack's own model)"),
    ({"ws-qwen2-5-0-5b-instruct": {"model": "phi-4-mini-instruct", "modelSize": "small"}},
     "kaito-aks:additionalModels.ws-qwen2-5-0-5b-instruct has the Workspace name of the stack's own model"),
    ({"ws-a": {"model": "phi-4-mini-instruct"}},
     "kaito-aks:additionalModels.ws-a.model 'phi-4-mini-instruct' is a GPU model but "
     "kaito-aks:additionalModels.ws-a.modelSize is 'cpu' (no GPU)"),
    ({"ws-a": {"model": "phi-4-mini-instruct", "modelSize": "small", "instanceType": "Standard_D4s_v5"}},
     "kaito-aks:additionalModels.ws-a.instanceType 'Standard_D4s_v5' cannot serve phi-4-mini-instruct"),
    ({"Ws": {"model": "phi-4-mini-instruct"}, "ws-b": {"modelSize": "small"}, "ws-c": {"model": "phi-2", "gpu": 1},
      "ws-d": {"model": "phi-2", "modelSize": "huge"}},
     "name 'Ws' is not a DNS-1035 label of at most 52 characters"),
    ({"1st-model": {"model": "phi-4-mini-instruct", "modelSize": "small"}},
     "name '1st-model' is not a DNS-1035 label"),  # KAITO's Services take the Workspace's name
    ({"demo-app": {"model": "phi-4-mini-instruct", "modelSize": "small"}},
     "kaito-aks:additionalModels.demo-app: the name 'demo-app' is taken by a Service"),
    ({"ws-qwen2-5-0-5b-instruct-headless": {"model": "phi-4-mini-instruct", "modelSize": "small"}},
     "the name 'ws-qwen2-5-0-5b-instruct-headless' is taken by a Service"),
], ids=["replicas-on-the-addon", "same-model-twice", "same-name-twice", "gpu-model-on-cpu-size", "size-too-small",
        "malformed-entries", "name-starting-with-a-digit", "the-demo-apps-name", "a-kaito-service-name"])
def test_bad_additional_models_are_refused_with_the_key_and_the_fix_before_anything_exists(more, expected):
    error, registered = run_failing_program(size_config("cpu", additionalModels=more))
    assert isinstance(error, ConfigError) and registered == []
    assert expected in str(error)


def test_malformed_entries_are_each_named_with_a_command_that_works():
    with pytest.raises(ConfigError) as raised:
        settings_of(size_config("cpu", additionalModels={"ws-b": {"modelSize": "small"}, "ws-c": {
            "model": "phi-2", "gpu": 1}, "ws-d": {"model": "phi-2", "modelSize": "huge"}}))
    message = str(raised.value)
    assert ("'ws-b' names no model: `pulumi config set --path 'kaito-aks:additionalModels.ws-b.model' <model>`"
            in message)
    assert "'ws-c.gpu' is not a model's key" in message
    assert "`pulumi config set --path 'kaito-aks:additionalModels.ws-d.modelSize' cpu`" in message


def test_the_front_door_refuses_more_models_than_its_route_holds():
    from stacks.settings import MAX_PUBLIC_MODELS

    presets = ["phi-4-mini-instruct", "phi-3-mini-4k-instruct", "phi-3-mini-128k-instruct", "phi-3.5-mini-instruct",
               "phi-3-medium-4k-instruct", "phi-3-medium-128k-instruct", "phi-4", "phi-2", "falcon-7b",
               "falcon-7b-instruct", "mistral-7b", "mistral-7b-instruct", "qwen2.5-coder-7b-instruct",
               "deepseek-r1-distill-llama-8b", "deepseek-r1-distill-qwen-14b"]
    more = {f"ws-{index}": {"model": model, "modelSize": "medium"} for index, model in enumerate(presets)}
    assert len(more) + 1 > MAX_PUBLIC_MODELS
    with pytest.raises(ConfigError) as raised:
        settings_of(size_config("cpu", **{**PUBLIC, "additionalModels": more}))
    assert f"the front door's route holds at most {MAX_PUBLIC_MODELS}" in str(raised.value)
    # Without the front door there is no such limit.
    assert len(settings_of(size_config("cpu", additionalModels=more)).models) == len(more) + 1


def test_every_run_registers_the_gpu_pool_clean_up_so_a_removed_model_s_pool_is_deleted():
    # The engine runs an after-delete hook only if the program registers it; a Workspace is deleted exactly when the
    # program no longer declares it: when the stack is paused, or its entry is taken out of additionalModels.
    run = size_program("cpu", additionalModels={"ws-phi": {"model": "phi-4-mini-instruct", "modelSize": "small"}})
    for workspace in run.of_type(WORKSPACE):
        assert workspace.after_delete_hooks == ["model-delete-kaito-gpu-pools"]
    assert "model-delete-kaito-gpu-pools" in size_program("cpu").hooks  # the entry removed
    assert "model-delete-kaito-gpu-pools" in size_program("small", paused=True).hooks  # paused
