"""Changing a deployed stack plans what KAITO accepts: every change to a field KAITO refuses (or
ignores) on a running Workspace replaces it, and the plan says so in words."""

from __future__ import annotations

import functools
import json

import pytest

from components.workspace import IMMUTABLE_FIELDS, REPLACE_ON_CHANGES
from scripts import changes, plan
from scripts.offline import ProviderLikeMocks, run_program_with, state_export
from scripts.plan import secret_keys_of
from stacks import images
from stacks.profiles import ADDON_PROFILES
from tests.harness import (
    AROUND_THE_MODEL,
    HF_TOKEN,
    WORKSPACE,
    ProgramRun,
    program,
    run_program_afresh,
    size_config,
    size_program,
    stack_config,
)

SECRET = "kubernetes:core/v1:Secret"


def operation(before: ProgramRun, after: ProgramRun, type_: str = WORKSPACE) -> str:
    """What the engine would do to the one resource of `type_` going from `before` to `after`."""
    old, new = before.one(type_), after.one(type_)
    assert old.urn == new.urn
    return changes.planned_operation(old.inputs, new.inputs, new.replace_on_changes)


@pytest.mark.parametrize(
    ("field", "before", "after"),
    [
        ("resource.instanceType", {}, {"instanceType": "Standard_NC40ads_H100_v5"}),
        ("resource.count", {}, {"nodeCount": 2}),
        ("resource.labelSelector", {}, {"workspaceName": "phi"}),
        ("inference.preset", {}, {"model": "phi-3-medium-128k-instruct"}),
    ],
)
def test_changing_an_immutable_field_replaces_the_workspace(field, before, after):
    old, new = size_program("medium", **before), size_program("medium", **after)
    assert changes.changed_paths(old.one(WORKSPACE).inputs, new.one(WORKSPACE).inputs)
    assert any(changes.contains(field, path) or changes.contains(path, field)
               for path in changes.changed_paths(old.one(WORKSPACE).inputs, new.one(WORKSPACE).inputs))
    assert operation(old, new) == "replace"
    assert new.one(WORKSPACE).delete_before_replace is True


def test_adding_a_token_reference_to_a_preset_replaces_the_workspace():
    # Upstream: a Hugging Face id of unknown gating gets the token's secret when a token is set.
    model = {"model": "Qwen/Qwen3-0.6B", "instanceType": "Standard_NV36ads_A10_v5"}
    without, with_token = size_program("small", "upstream", **model), size_program("small", "upstream", **model,
                                                                                   hfToken=HF_TOKEN)
    options = with_token.one(WORKSPACE).inputs["inference"]["preset"]["presetOptions"]
    assert options == {"modelAccessSecret": with_token.named(SECRET, "model-hf-token").inputs["metadata"]["name"]}
    assert operation(without, with_token) == "replace"


def test_a_new_cpu_model_server_replaces_the_workspace_because_kaito_never_applies_template_updates(monkeypatch):
    before = size_program("cpu")
    monkeypatch.setattr(images, "LLAMA_CPP_SERVER_IMAGE", "ghcr.io/ggml-org/llama.cpp:server-b9000@sha256:" + "0" * 64)
    # A different program (another image), so evaluated afresh.
    after = run_program_afresh(size_config("cpu"))
    assert "inference.template.spec.containers[0].image" in changes.changed_paths(
        before.one(WORKSPACE).inputs, after.one(WORKSPACE).inputs)
    assert operation(before, after) == "replace"


def test_rotating_the_token_changes_only_the_kubernetes_secret():
    first = size_program("large")
    rotated = size_program("large", hfToken="hf_rotated_token_value_0000000000")
    assert operation(first, rotated) == "same"
    old, new = first.named(SECRET, "model-hf-token"), rotated.named(SECRET, "model-hf-token")
    assert changes.planned_operation(old.inputs, new.inputs, new.replace_on_changes) == "update"
    assert new.inputs["stringData"] == {"HF_TOKEN": "hf_rotated_token_value_0000000000"}


def test_changes_outside_the_workspace_leave_the_model_running():
    assert operation(size_program("small"), size_program("small", restrictModelAccess=False)) == "same"
    # A bigger system pool (with a budget and alert settings: the shared stack's, all outside the Workspace too).
    assert AROUND_THE_MODEL["systemNodeCount"] == 2
    assert operation(size_program("small"), size_program("small", **AROUND_THE_MODEL)) == "same"


def test_a_change_kaito_applies_in_place_is_an_update():
    old = size_program("small").one(WORKSPACE).inputs
    new = json.loads(json.dumps(old))
    new["metadata"]["annotations"]["pulumi.com/timeoutSeconds"] = "9999"
    assert changes.planned_operation(old, new, REPLACE_ON_CHANGES) == "update"


@pytest.mark.parametrize("model_size", ["cpu", "small", "large"])
def test_every_field_the_program_sets_under_resource_and_inference_is_listed_as_immutable(model_size):
    manifest = size_program(model_size).one(WORKSPACE).inputs
    for top in ("resource", "inference"):
        for path in changes.leaf_paths(manifest[top], top):
            assert any(changes.contains(field, path) for field in IMMUTABLE_FIELDS), path
    assert all(field.split(".")[0] in REPLACE_ON_CHANGES for field in IMMUTABLE_FIELDS)


@pytest.mark.parametrize(
    ("rule", "path", "contained"),
    [
        ("resource", "resource.count", True),
        ("resource.count", "resource.count", True),
        ("resource.count", "resource", False),
        ("inference.preset", "inference.preset.presetOptions.modelAccessSecret", True),
        ("inference.*.name", "inference.preset.name", True),
        ("spec.containers[0]", "spec.containers[0].image", True),
        ("spec.containers[1]", "spec.containers[0].image", False),
        ("resource", "inference.preset", False),
    ],
)
def test_replacement_follows_pulumis_property_path_rule(rule, path, contained):
    assert changes.contains(rule, path) is contained


def test_the_plan_says_which_setting_replaces_the_model_and_for_how_long():
    before, after = size_program("medium"), size_program("medium", nodeCount=2)
    (sentence,) = changes.describe_workspace_change(
        before.one(WORKSPACE).inputs, after.one(WORKSPACE).inputs, REPLACE_ON_CHANGES,
        ADDON_PROFILES["medium"].readiness_timeout_minutes)
    assert sentence.startswith("changing kaito-aks:nodeCount replaces the model deployment")
    assert f"up to {ADDON_PROFILES['medium'].readiness_timeout_minutes} minutes" in sentence


def test_pausing_and_a_first_deploy_are_described_too():
    running = size_program("small").one(WORKSPACE).inputs
    assert "removed" in changes.describe_workspace_change(running, None, REPLACE_ON_CHANGES, 40)[0]
    assert "created" in changes.describe_workspace_change(None, running, REPLACE_ON_CHANGES, 40)[0]
    assert changes.describe_workspace_change(running, running, REPLACE_ON_CHANGES, 40) == []


def test_the_plan_command_compares_with_the_deployed_state(tmp_path, capsys):
    deployed = program(size_config("cpu", nodeCount=2), stack="dev", preview=True)
    exported = tmp_path / "state.json"
    exported.write_text(json.dumps(state_export(deployed)))
    assert plan.main(["dev", "--state", str(exported), "--changes-only"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Compared with the deployed state (state.json):")
    assert "WARNING: changing kaito-aks:nodeCount replaces the model deployment" in out


def test_the_plan_command_says_so_when_the_model_keeps_running(tmp_path, capsys):
    deployed = program(stack_config("dev"), stack="dev", preview=True)
    exported = tmp_path / "state.json"
    exported.write_text(json.dumps(state_export(deployed)))
    assert plan.main(["dev", "--state", str(exported), "--changes-only"]) == 0
    assert "the running model is not interrupted" in capsys.readouterr().out


def test_a_state_file_that_is_not_an_export_is_one_line(tmp_path, capsys):
    broken = tmp_path / "state.json"
    broken.write_text("{not json")
    assert plan.main(["dev", "--state", str(broken)]) == 2
    assert capsys.readouterr().err.startswith("plan: ")


def test_the_plan_command_compares_with_the_stack_file_at_a_git_revision(capsys):
    assert plan.main(["dev", "--against", "HEAD", "--changes-only"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Compared with Pulumi.dev.yaml at HEAD")


# --- every resource against a deployed stack (the pull-request preview) ---------------------------

class AzureAsDeployed(ProviderLikeMocks):
    """Azure's answers in a real subscription: its own subscription, deployer and assigned IDs, not the mocks'."""

    subscription = "8c1e5b9a-3f42-4d7e-9a61-2b7f0c4d9e13"
    deployer = "5f0b7a2c-9d34-4e18-8b6a-7c2e1d0f4a95"
    id_seed = "eastus.azure.example"


@functools.lru_cache
def _deployed_export(config_json: str) -> str:
    """One deployment per config for the whole module: the comparison, not the deployment, is under test."""
    config = json.loads(config_json)
    return json.dumps(state_export(run_program_with(config, AzureAsDeployed(), stack="dev",
                                                    secret_keys=secret_keys_of(config))))


def deployed(config, tmp_path, name="state.json", checkpoint=False, gzipped=False):
    """`pulumi up` of `config` as the state records it (IDs from AzureAsDeployed, secrets as ciphertext): an
    export, or the backend's own checkpoint file, optionally gzipped."""
    import gzip

    document = json.loads(_deployed_export(json.dumps(config, sort_keys=True)))
    if checkpoint:
        latest = document["deployment"]
        document = {"version": 3, "checkpoint": {"stack": "organization/kaito-aks/dev", "latest": latest}}
    text = json.dumps(document).encode()
    path = tmp_path / name
    path.write_bytes(gzip.compress(text) if gzipped else text)
    return path


@pytest.mark.parametrize(("checkpoint", "gzipped"), [(False, False), (True, True)])
def test_an_unchanged_stack_plans_no_change_even_with_azures_own_ids(tmp_path, capsys, checkpoint, gzipped):
    state = deployed(stack_config("dev"), tmp_path, "dev.json.gz" if gzipped else "dev.json", checkpoint, gzipped)
    assert plan.main(["dev", "--state", str(state), "--changes-only"]) == 0
    assert "No resource changes: the deployed stack stays as it is." in capsys.readouterr().out
    # Without the deployed IDs the role assignments' scopes and principals would all differ.
    assert any("RoleAssignment" in line for line in plan_against_mocks_only(state))


def plan_against_mocks_only(state) -> list[str]:
    """The comparison as it would come out if the mocks did not answer from the state (shows the need)."""
    from scripts.offline import DeployedState

    return [change.line() for change in changes.resource_changes(
        program(stack_config("dev"), stack="dev", preview=True), DeployedState.parse(state.read_bytes()))]


def test_the_preview_lists_exactly_the_resources_a_change_touches(tmp_path, monkeypatch):
    state = deployed(stack_config("dev"), tmp_path)
    changed = {**stack_config("dev"), "kaito-aks:skuTier": "Standard", "kaito-aks:demoApp": "false"}
    monkeypatch.setattr(plan, "load_stack_config", lambda stack, root=None: changed)
    assert plan.build_plan("dev", state=state)["resourceChanges"] == [
        "- delete  kubernetes:apps/v1:Deployment demo-app-deployment",
        "- delete  kubernetes:core/v1:ConfigMap demo-app-source",
        "- delete  kubernetes:core/v1:Service demo-app-service",
        "- delete  kubernetes:networking.k8s.io/v1:NetworkPolicy demo-app-egress",
        "- delete  kubernetes:networking.k8s.io/v1:NetworkPolicy demo-app-ingress",
        "~ update  azure-native:containerservice:ManagedCluster cluster-aks: sku.tier",
    ]


def test_a_replaced_model_shows_as_a_replacement_and_the_token_never_prints(tmp_path, monkeypatch, capsys):
    state = deployed(size_config("large"), tmp_path)
    other = size_config("large", hfToken="hf_rotated_token_value_0000000000", nodeCount=2)
    monkeypatch.setattr(plan, "load_stack_config", lambda stack, root=None: {
        key: value if isinstance(value, str) else json.dumps(value) for key, value in other.items()})
    assert plan.main(["dev", "--state", str(state), "--changes-only"]) == 0
    out = capsys.readouterr().out
    assert "WARNING: changing kaito-aks:nodeCount replaces the model deployment" in out
    assert "+- replace kubernetes:kaito.sh/v1beta1:Workspace model-workspace: resource.count" in out
    assert "hf_rotated_token_value" not in out and HF_TOKEN not in out
    assert "model-hf-token" not in out  # ciphertext on one side: not comparable, not printed


def test_what_providers_add_to_recorded_inputs_is_not_a_change(tmp_path):
    """A real state records what a provider's Check filled in (listed in __defaults) and the provider version
    the engine adds to an explicit provider: neither is a change the program makes."""
    from scripts.offline import DeployedState

    state = json.loads(deployed(stack_config("dev"), tmp_path).read_text())
    for resource in state["deployment"]["resources"]:
        if resource["type"] == "kubernetes:core/v1:Namespace":
            resource["inputs"]["metadata"]["annotations"] = {"kept": "as is"}  # a real difference, for control
        if resource["type"] == "azure-native:containerservice:ManagedCluster":
            resource["inputs"]["__defaults"] = ["publicNetworkAccess"]
            resource["inputs"]["publicNetworkAccess"] = "Enabled"
        if resource["type"] == "pulumi:providers:kubernetes":
            resource["inputs"]["version"] = "4.34.2"
    lines = [change.line() for change in changes.resource_changes(
        program(stack_config("dev"), stack="dev", preview=True), DeployedState(state["deployment"]["resources"]))]
    assert not any("publicNetworkAccess" in line or "version" in line for line in lines)
    assert any("Namespace" in line and "metadata.annotations.kept" in line for line in lines)
