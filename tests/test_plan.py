"""The offline plan: what `pulumi up` would create, read off the real program under mocks."""

from __future__ import annotations

import json

import pytest
import yaml

from stacks import plan
from stacks.settings import settings_from_stack_config
from tests.harness import run_program
from tests.programs import size_config

EXPECTED = {
    # size: (model, VM line, quota line, cost line)
    "cpu": ("qwen2.5-0.5b-instruct — CPU model", "1 x Standard_D8s_v5 (no GPU)", "8 vCPUs of standardDSv5Family", "$0.576/h, $420.48/month"),
    "small": ("phi-4-mini-instruct — KAITO preset (GPU)", "1 x Standard_NV36ads_A10_v5 (1 x NVIDIA A10)",
              "36 vCPUs of StandardNVADSA10v5Family", "$3.392/h, $2,476.16/month"),
    "medium": ("phi-4 — KAITO preset (GPU)", "1 x Standard_NC24ads_A100_v4 (1 x NVIDIA A100 80GB)",
               "24 vCPUs of StandardNCADSA100v4Family", "$3.865/h, $2,821.45/month"),
    "large": ("llama-3.3-70b-instruct — KAITO preset (GPU)", "1 x Standard_NC96ads_A100_v4 (4 x NVIDIA A100 80GB)",
              "96 vCPUs of StandardNCADSA100v4Family", "$14.884/h, $10,865.32/month"),
}


def plan_for(model_size: str) -> dict:
    config = {key: value if isinstance(value, str) else json.dumps(value) for key, value in size_config(model_size).items()}
    settings = settings_from_stack_config(config, "test")
    secret_keys = ("kaito-aks:hfToken",) if "kaito-aks:hfToken" in config else ()
    return plan.plan_document("test", settings, run_program(config, secret_keys=secret_keys))


@pytest.mark.parametrize("model_size", EXPECTED)
def test_plan_shows_model_size_quota_and_cost(model_size):
    text = plan.render(plan_for(model_size))
    model, vm, quota, cost = EXPECTED[model_size]
    assert text.startswith("OFFLINE PLAN — evaluated under mocks, not a `pulumi preview`")
    assert f"Model            {model}" in text
    assert f"VM size          {vm}" in text
    assert f"Quota needed     {quota}; system pool 1 x Standard_D4s_v5: 4 vCPUs of standardDSv5Family" in text
    assert f"Estimated cost   {cost} (730 h)" in text
    assert "eastus as of 2024-08" in text


@pytest.mark.parametrize("model_size", EXPECTED)
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


def test_plan_never_shows_secrets():
    document = plan_for("large")
    assert document["outputs"]["kubeconfig"] == "[secret]"
    assert "hf_test_token" not in json.dumps(document)


def test_plan_command_for_the_dev_stack(capsys):
    assert plan.main(["--stack", "dev"]) == 0
    out = capsys.readouterr().out
    assert "Stack            dev (eastus, modelSize cpu)" in out
    assert "ws-qwen2-5-0-5b-instruct" in out


def test_plan_command_json_is_machine_readable(capsys):
    assert plan.main(["--stack", "dev", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["notAPreview"] is True
    assert (document["model"], document["instanceType"], document["gpus"]) == ("qwen2.5-0.5b-instruct", "Standard_D8s_v5", 0)
    assert document["estimatedMonthlyCostUsd"] == 420.48


def test_plan_command_reports_a_missing_stack_file(capsys):
    assert plan.main(["--stack", "nowhere"]) == 2
    assert "no stack file Pulumi.nowhere.yaml (stack files here: dev" in capsys.readouterr().err
