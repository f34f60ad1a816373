"""Several copies of the model (kaito-aks:minReplicas, maxReplicas): an InferenceSet that KEDA scales with vLLM's
queue through keda-kaito-scaler, one Service over the copies, and quota and cost for the most copies. Checked
against KAITO 0.12's InferenceSet schema and the scaler's own annotation names at the pinned versions."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import yaml

from components import inference_autoscaler
from components.serving_metrics import VLLM_0_25
from components.workspace import CREATED_BY_LABEL, MODEL_PORT, POD_INDEX_LABEL, SERVICE_PORT
from scripts import changes
from stacks import cost, preflight, prices
from tests.fake_azure import FakeAzure
from tests.harness import WORKSPACE, settings_of, size_config, size_program

HERE = Path(__file__).parent
SCHEMA = json.loads((HERE / "schemas" / "inferenceset-v1beta1-v0.12.0.strict.schema.json").read_text())
SCALER_KEYS = set(re.findall(r'"(scaledobject\.kaito\.sh/[a-z-]+)"',
                             (HERE / "upstream" / "keda-kaito-scaler-0.6.2-constants.go").read_text()))
SCALER_VALUES = yaml.safe_load((HERE / "upstream" / "keda-kaito-scaler-0.6.2-values.yaml").read_text())
INFERENCE_SET = "kubernetes:kaito.sh/v1beta1:InferenceSet"
RELEASE = "kubernetes:helm.sh/v3:Release"
SERVICE = "kubernetes:core/v1:Service"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
POD_MONITOR = "kubernetes:azmonitoring.coreos.com/v1:PodMonitor"
SCALED = {"minReplicas": 2, "maxReplicas": 3}


def scaled(**overrides):
    return size_program("small", "upstream", **{**SCALED, **overrides})


def manifest(run) -> dict:
    return {k: v for k, v in run.one(INFERENCE_SET).inputs.items() if k != "__defaults"}


def test_copies_of_the_model_are_an_inference_set_kaito_0_12_accepts():
    run = scaled()
    assert run.of_type(WORKSPACE) == []
    inference_set = manifest(run)
    jsonschema.validate(inference_set, SCHEMA)
    spec = inference_set["spec"]
    assert spec["template"]["resource"]["instanceType"] == run.outputs["instanceType"]
    assert spec["template"]["inference"]["preset"]["name"] == "Qwen/Qwen3-8B-AWQ"
    assert spec["labelSelector"]["matchLabels"]["karpenter.sh/capacity-type"] == "on-demand"
    # KEDA owns the number of copies: kaito-aks never sets it, so an up never undoes a scale-out.
    assert "replicas" not in spec
    assert inference_set["metadata"]["annotations"]["pulumi.com/waitFor"] == "condition=InferenceSetReady"


def test_the_scaler_is_asked_in_its_own_words():
    annotations = manifest(scaled())["metadata"]["annotations"]
    ours = {key for key in annotations if key.startswith("scaledobject.kaito.sh/")}
    assert ours and ours <= SCALER_KEYS  # the 0.6.2 scaler's names; the 0.5 names in KAITO's docs are ignored
    assert annotations["scaledobject.kaito.sh/auto-provision"] == "true"
    assert (annotations["scaledobject.kaito.sh/min-replicas"], annotations["scaledobject.kaito.sh/max-replicas"]) == (
        "2", "3")
    (metric,) = yaml.safe_load(annotations["scaledobject.kaito.sh/metrics"])
    assert set(metric) == {"name", "type", "upthreshold", "downthreshold"}
    assert metric["type"] == "gauge" and VLLM_0_25.exposes(metric["name"])  # the queue KAITO 0.12's vLLM exports
    assert 0 <= metric["downthreshold"] <= metric["upthreshold"]


def test_keda_and_the_scaler_are_installed_together_in_kedas_namespace():
    run = scaled()
    releases = {r.inputs["name"]: r for r in run.of_type(RELEASE)}
    keda, scaler = releases["keda"], releases["keda-kaito-scaler"]
    assert (keda.inputs["chart"], keda.inputs["version"]) == ("keda", "2.20.1")
    assert keda.inputs["repositoryOpts"]["repo"] == "https://kedacore.github.io/charts"
    assert (scaler.inputs["chart"], scaler.inputs["version"]) == ("keda-kaito-scaler", "0.6.2")
    assert keda.inputs["namespace"] == scaler.inputs["namespace"] == "keda"  # the scaler's README requires it
    assert keda.urn in scaler.dependencies  # the scaler's ClusterTriggerAuthentication is a KEDA object
    # Uninstalling KEDA keeps its CRDs: the scaler's credentials object carries KEDA's finalizer.
    assert keda.inputs["values"]["crds"]["additionalAnnotations"] == {"helm.sh/resource-policy": "keep"}
    # The scaler is up (its certificates made) before the InferenceSet it scales, and outlives it on the way out.
    assert scaler.urn in run.one(INFERENCE_SET).dependencies
    # KAITO first: the scaler waits for the InferenceSet CRD before it reports healthy.
    kaito = next(r for r in run.of_type(RELEASE) if r.inputs["name"] == "kaito-workspace")
    assert kaito.urn in keda.dependencies


def test_a_fixed_number_of_copies_is_kedas_too():
    # min = max: the scaler's HPA holds the count; kaito-aks never sends spec.replicas, so moving between a fixed
    # and a scaled range never resets the count or fights KEDA over it.
    fixed = manifest(scaled(minReplicas=2, maxReplicas=2))
    assert "replicas" not in fixed["spec"]
    annotations = fixed["metadata"]["annotations"]
    assert (annotations["scaledobject.kaito.sh/min-replicas"], annotations["scaledobject.kaito.sh/max-replicas"]) == (
        "2", "2")


def test_one_service_reaches_the_serving_pod_of_every_copy_and_clients_use_it():
    run = scaled()
    (service,) = [s for s in run.of_type(SERVICE) if s.name == "model-replicas"]
    name = manifest(run)["metadata"]["name"]
    assert service.inputs["spec"]["selector"] == {CREATED_BY_LABEL: name, POD_INDEX_LABEL: "0"}
    assert service.inputs["spec"]["ports"] == [
        {"name": "http", "port": SERVICE_PORT, "targetPort": MODEL_PORT, "protocol": "TCP"}]
    service_name = service.inputs["metadata"]["name"]
    assert service_name != name  # the old Workspace's Service keeps its name until it is gone
    assert run.outputs["inferenceEndpoint"] == f"http://{service_name}.kaito.svc.cluster.local/v1"


def test_the_copies_pods_are_guarded_scraped_and_read_by_the_scaler():
    run = scaled()
    name = manifest(run)["metadata"]["name"]
    policy = next(p for p in run.of_type(POLICY) if p.name == "model-model-access")
    assert policy.inputs["spec"]["podSelector"] == {"matchLabels": {CREATED_BY_LABEL: name}}
    allowed = policy.inputs["spec"]["ingress"][0]["from"]
    assert inference_autoscaler.scaler_peer() in allowed
    # The scaler's pods carry its chart's selector labels (chart name, release name), as no nameOverride is set.
    assert "nameOverride" not in SCALER_VALUES
    scaler = next(r for r in run.of_type(RELEASE) if r.inputs["chart"] == "keda-kaito-scaler")
    assert inference_autoscaler.SCALER_POD_LABELS == {"app.kubernetes.io/name": scaler.inputs["chart"],
                                                     "app.kubernetes.io/instance": scaler.inputs["name"]}
    (monitor,) = [m for m in run.of_type(POD_MONITOR) if m.inputs["metadata"]["name"] == "kaito-model"]
    assert monitor.inputs["spec"]["selector"] == {"matchLabels": {CREATED_BY_LABEL: name}}


def test_changing_the_range_scales_in_place_and_a_new_model_replaces_the_copies():
    before, fixed = scaled(), scaled(minReplicas=2, maxReplicas=2)
    old, new = before.one(INFERENCE_SET), fixed.one(INFERENCE_SET)
    assert changes.planned_operation(old.inputs, new.inputs, new.replace_on_changes) == "update"
    other_model = scaled(model="openai/gpt-oss-20b", instanceType="Standard_NC24ads_A100_v4")
    changed = other_model.one(INFERENCE_SET)
    assert changes.planned_operation(old.inputs, changed.inputs, changed.replace_on_changes) == "replace"
    assert changed.delete_before_replace is True


def test_cost_is_at_the_fewest_copies_with_the_most_beside_it():
    run = scaled()
    settings = settings_of(size_config("small", "upstream", **SCALED))
    one_copy = cost.estimate(settings_of(size_config("small", "upstream")))
    per_copy = prices.usd_per_hour(settings.instance_type, "eastus") * settings.node_count
    assert run.outputs["estimatedHourlyCostUsd"] == round(one_copy.hourly_usd + per_copy, 4)
    assert run.outputs["estimatedHourlyCostUsdAtMaxReplicas"] == round(one_copy.hourly_usd + 2 * per_copy, 4)
    assert "with 3 while demand lasts" in run.outputs["estimatedCostBasis"]
    assert "estimatedHourlyCostUsdAtMaxReplicas" not in size_program("small", "upstream").outputs


def test_preflight_finds_room_for_the_most_copies():
    azure = FakeAzure()
    azure.set_usage("StandardNVADSA10v5Family", 0, 72)  # room for the two A10 copies at least, not the three at most
    report = preflight.run_preflight(settings_of(size_config("small", "upstream", **SCALED)), azure,
                                     "00000000-0000-0000-0000-0000000000aa", sleep=lambda seconds: None)
    first = report.home.checks[0]
    assert (first.size, first.nodes) == ("Standard_NV36ads_A10_v5", 3)
    assert first.problems == ["StandardNVADSA10v5Family quota 0/72 vCPUs has no room for 108 more"]


def test_a_paused_stack_runs_no_copy_but_keeps_keda():
    # Removing KEDA with its CRDs while it still finalizes objects would hang; a paused stack costs no GPU anyway.
    run = scaled(paused=True)
    assert run.of_type(INFERENCE_SET) == []
    assert {"keda", "keda-kaito-scaler"} <= {r.inputs["name"] for r in run.of_type(RELEASE)}


def test_names_too_long_for_a_copys_labels_are_refused():
    from stacks.settings import MAX_REPLICATED_NAME
    from tests.harness import run_failing_program

    name = "m" * (MAX_REPLICATED_NAME + 1)
    error, registered = run_failing_program(size_config("small", "upstream", **SCALED, workspaceName=name))
    assert f"kaito-aks:workspaceName '{name}' is too long for copies" in str(error) and registered == []
