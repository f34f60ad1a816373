"""Bad input fails before any resource is registered, naming the key, the value and what would work."""

from __future__ import annotations

import pulumi
import pytest

from stacks.settings import ConfigError
from tests.harness import run_failing_program
from tests.programs import size_config

CASES = {
    "unknown model size": (
        size_config("huge"),
        ["kaito-aks:modelSize", "'huge'", "cpu, small, medium, large"],
    ),
    "unknown model": (
        size_config("small", model="phi-5-mini"),
        ["kaito-aks:model", "'phi-5-mini'", "phi-4-mini-instruct"],
    ),
    "instance type kaito-aks does not know": (
        size_config("small", instanceType="Standard_B2s"),
        ["kaito-aks:instanceType", "'Standard_B2s'", "Standard_NC4as_T4_v3"],
    ),
    "instance type with too little GPU memory": (
        size_config("medium", instanceType="Standard_NV36ads_A10_v5"),
        ["kaito-aks:instanceType", "'Standard_NV36ads_A10_v5'", "24 GiB", "40 GiB",
         "cheapest first: Standard_NC24ads_A100_v4 ($3.673/h)"],
    ),
    "instance type with too few GPUs": (
        size_config("large", instanceType="Standard_NC24ads_A100_v4"),
        ["kaito-aks:instanceType", "'Standard_NC24ads_A100_v4'", "needs 4", "Standard_NC96ads_A100_v4"],
    ),
    "a GPU model on a CPU size": (
        size_config("small", instanceType="Standard_D8s_v5"),
        ["kaito-aks:instanceType", "'Standard_D8s_v5'", "no GPU", "Standard_NC4as_T4_v3"],
    ),
    "a retired size": (
        size_config("small", instanceType="Standard_NC6s_v3"),
        ["kaito-aks:instanceType", "'Standard_NC6s_v3'", "retired", "Standard_NC4as_T4_v3"],
    ),
    "node count below one": (
        size_config("small", nodeCount=0),
        ["kaito-aks:nodeCount", "'0'", "at least 1"],
    ),
    "node count not a number": (
        size_config("small", nodeCount="two"),
        ["kaito-aks:nodeCount", "'two'", "whole number"],
    ),
    "a model needing a token without one": (
        {"azure-native:location": "eastus", "kaito-aks:modelSize": "large"},
        ["kaito-aks:hfToken", "llama-3.3-70b-instruct", "pulumi config set --secret kaito-aks:hfToken"],
    ),
    "a namespace that is not a DNS-1123 label": (
        size_config("cpu", namespace="AI_Models"),
        ["kaito-aks:namespace", "'AI_Models'", "DNS-1123", "'kaito'"],
    ),
    "a namespace the cluster owns": (
        size_config("cpu", namespace="kube-system"),
        ["kaito-aks:namespace", "'kube-system'", "'kaito'"],
    ),
    "a workspace name that is not a DNS-1123 label": (
        size_config("small", workspaceName="phi.4"),
        ["kaito-aks:workspaceName", "'phi.4'", "DNS-1123", "'ws-phi-4-mini-instruct'"],
    ),
    "tags that are not a map": (
        size_config("cpu", tags="owner=me"),
        ["kaito-aks:tags", "'owner=me'", "pulumi config set --path 'kaito-aks:tags.owner'"],
    ),
    "tags given as a list": (
        size_config("cpu", tags=["owner", "me"]),
        ["kaito-aks:tags", '["owner", "me"]', "pulumi config set --path"],
    ),
    "a tag with a nested value": (
        size_config("cpu", tags={"owner": {"team": "ai"}}),
        ["kaito-aks:tags.owner", '{"team": "ai"}', "pulumi config set --path"],
    ),
    "a tag name Azure refuses": (
        size_config("cpu", tags={"cost/center": "42"}),
        ["kaito-aks:tags", "'cost/center'", "'cost-center'"],
    ),
    "a GPU preset on the cpu size": (
        size_config("cpu", model="phi-4"),
        ["kaito-aks:model", "'phi-4'", "kaito-aks:modelSize", "qwen2.5-0.5b-instruct"],
    ),
    "a CPU model on a GPU size": (
        size_config("small", model="qwen2.5-0.5b-instruct"),
        ["kaito-aks:model", "'qwen2.5-0.5b-instruct'", "modelSize to cpu", "phi-4-mini-instruct"],
    ),
    "a malformed Kubernetes version": (
        size_config("cpu", kubernetesVersion="latest"),
        ["kaito-aks:kubernetesVersion", "'latest'", "1.33"],
    ),
    "a GPU size for the system pool": (
        size_config("cpu", systemNodeVmSize="Standard_NC24ads_A100_v4"),
        ["kaito-aks:systemNodeVmSize", "'Standard_NC24ads_A100_v4'", "Standard_D4s_v5"],
    ),
    "a misspelt key": (
        {**size_config("cpu"), "kaito-aks:modelsize": "small"},
        ["kaito-aks:modelsize", "did you mean 'modelSize'?", "pulumi config rm kaito-aks:modelsize"],
    ),
    "no region": (
        {"kaito-aks:modelSize": "cpu"},
        ["azure-native:location", "pulumi config set azure-native:location eastus"],
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_config_is_rejected_with_the_fix_before_any_resource(case):
    config, expected_fragments = CASES[case]
    error, registered = run_failing_program(config)
    assert isinstance(error, ConfigError), repr(error)
    # A RunError is printed by the Pulumi CLI as its message alone, without a Python traceback.
    assert isinstance(error, pulumi.RunError)
    for fragment in expected_fragments:
        assert fragment in str(error), f"{fragment!r} missing from: {error}"
    assert registered == []


def test_every_problem_is_reported_at_once():
    error, _ = run_failing_program(size_config("small", nodeCount=0, namespace="Bad", kubernetesVersion="x"))
    message = str(error)
    assert "kaito-aks:nodeCount" in message
    assert "kaito-aks:namespace" in message
    assert "kaito-aks:kubernetesVersion" in message


def test_a_typo_in_a_model_name_gets_a_suggestion():
    error, _ = run_failing_program(size_config("medium", model="phi4"))
    assert "did you mean 'phi-4'?" in str(error)


def test_the_token_is_never_echoed_in_an_error():
    token = "hf_secret_value_that_must_not_print"
    error, _ = run_failing_program(size_config("small", hfToken=token, nodeCount=-1))
    assert token not in str(error)
