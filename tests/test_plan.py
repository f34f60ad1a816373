"""The offline plan: what `pulumi up` would create, read off the real program under mocks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from scripts import plan
from stacks import prices
from stacks.catalog import VM_SIZES
from stacks.profiles import ADDON_PROFILES
from tests import background
from tests.background_commands import PRINTERS
from tests.harness import MODEL_SIZES, program, settings_of, size_config, stack_names

ROOT = Path(__file__).resolve().parent.parent


def plan_for(model_size: str, **overrides) -> dict:
    config = size_config(model_size, **overrides)
    return plan.plan_document("test", settings_of(config), program(config))


@pytest.mark.parametrize("model_size", MODEL_SIZES)
def test_plan_shows_model_size_quota_and_cost(model_size):
    text = plan.render(plan_for(model_size))
    profile = ADDON_PROFILES[model_size]
    size, system = VM_SIZES[profile.instance_types[0]], VM_SIZES["Standard_D4s_v5"]
    gpus = f"{size.gpu_count} x {size.gpu_model}" if size.has_gpu else "no GPU"
    # The model and system nodes, and the container logs at their 1 GB daily cap.
    hourly = sum(prices.usd_per_hour(sku, "eastus")
                 for sku in (size.name, system.name, prices.LOG_ANALYTICS_GB_PER_DAY))
    assert text.startswith("OFFLINE PLAN — evaluated under mocks, not a `pulumi preview`")
    assert f"Model            {profile.model} — " in text
    assert f"VM size          1 x {size.name} ({gpus}; nodes: kaito-aks:nodeCount)" in text
    assert (f"Quota needed     {size.vcpus} vCPUs of {size.quota_family}; system pool 1 x {system.name}: "
            f"{system.vcpus} vCPUs of {system.quota_family}") in text
    assert f"Estimated cost   ${hourly:.3f}/h, ${round(hourly * 730, 2):,.2f}/month (730 h)" in text


@pytest.mark.parametrize("model_size", MODEL_SIZES)
def test_plan_lists_every_resource_with_its_parent_and_the_workspace_yaml(model_size):
    document = plan_for(model_size)
    text = plan.render(document)
    rows = {(r["type"], r["name"], r["parent"]) for r in document["resources"]}
    assert ("azure-native:containerservice:ManagedCluster", "cluster-aks", "cluster") in rows
    assert ("kubernetes:kaito.sh/v1beta1:Workspace", "model-workspace", "model") in rows
    assert ("kaito-aks:cluster:AksCluster", "cluster", "(stack)") in rows
    assert f"Resources ({len(rows)}):" in text
    manifest = yaml.safe_load(text.split("Workspace manifest:\n", 1)[1])
    assert manifest == document["workspace"]
    assert manifest["kind"] == "Workspace" and manifest["resource"]["count"] == 1


def test_plan_of_a_paused_stack_says_there_is_no_workspace():
    text = plan.render(plan_for("small", paused=True))
    assert "Workspace manifest: none (the stack is paused)" in text


def test_plan_never_shows_secrets():
    document = plan_for("large")
    assert document["outputs"]["kubeconfig"] == "[secret]"
    assert "hf_test_token" not in json.dumps(document)


def test_plan_says_when_an_override_moved_the_model_to_another_size():
    # phi-3-medium needs 28 GiB: the small profile's A10 (24 GiB) cannot hold it.
    document = plan_for("small", model="phi-3-medium-4k-instruct")
    chosen = document["instanceType"]
    first = ADDON_PROFILES["small"].instance_types[0]
    difference = prices.usd_per_hour(chosen, "eastus") - prices.usd_per_hour(first, "eastus")
    (notice,) = document["notices"]
    assert f"does not fit the small profile's {first}" in notice
    assert f"runs on {chosen} instead (+${difference:.3f}/h for 1 node(s))" in notice
    assert "NOTE: " + notice in plan.render(document)


@pytest.mark.parametrize("stack", stack_names())
def test_plan_command_for_every_stack_file(stack, capsys):
    assert plan.main([stack]) == 0
    out = capsys.readouterr().out
    assert f"Stack            {stack} (" in out


def test_plan_command_json_is_machine_readable(capsys):
    assert plan.main(["dev", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["notAPreview"] is True
    assert document["stack"] == "dev" and document["instanceType"] in VM_SIZES


def test_plan_command_reports_a_missing_stack_file(capsys):
    assert plan.main(["nowhere"]) == 2
    assert "no stack file Pulumi.nowhere.yaml (stack files here: " in capsys.readouterr().err


@pytest.mark.background("plan-into-head")
def test_plan_piped_into_head_ends_without_a_traceback():
    result, _ = background.result("plan-into-head")  # ./scripts/plan dev --json | head -n 3
    assert result.stdout.splitlines()[0] == "{"
    assert "Traceback" not in result.stderr, result.stderr


@pytest.mark.background("pipe-printers")
@pytest.mark.parametrize(("printer", "quiet"), [("print_safely", True), ("print", False)])
def test_output_larger_than_a_pipe_ends_quietly_when_the_reader_leaves(printer, quiet):
    # A megabyte outlasts the pipe's buffer, so the reader really leaves mid-write; plain print is
    # the control that shows the check can fail.
    assert printer in PRINTERS
    finished, folder = background.result("pipe-printers")  # python -c "<printer>('x' * 1_000_000)" | head -c 10
    assert finished.returncode == 0, finished.stderr
    stdout, stderr = (folder / f"{printer}.out").read_text(), (folder / f"{printer}.err").read_text()
    assert stdout == "x" * 10
    assert ("BrokenPipeError" not in stderr) is quiet, stderr
