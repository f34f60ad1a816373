"""Changing a deployed stack plans what KAITO accepts: every change to a field KAITO refuses (or
ignores) on a running Workspace replaces it, and the plan says so in words."""

from __future__ import annotations

import json

import pytest

from components.workspace import IMMUTABLE_FIELDS, REPLACE_ON_CHANGES
from scripts import changes, plan
from stacks import images
from stacks.profiles import ADDON_PROFILES
from tests.harness import (
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
    assert operation(size_program("small"), size_program("small", systemNodeCount=2)) == "same"


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


def state_export(run: ProgramRun) -> dict:
    """A `pulumi stack export` document (deployment.resources[].inputs) holding the run's resources."""
    return {"version": 3, "deployment": {"resources": [
        {"urn": r.urn, "type": r.type, "custom": True, "inputs": {**r.inputs, "__defaults": []}}
        for r in run.resources
    ]}}


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
