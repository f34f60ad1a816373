"""Bad input fails before any resource is registered, naming the key, the value and what would work."""

from __future__ import annotations

import pulumi
import pytest

from stacks import prices
from stacks.install_modes import ADDON
from stacks.settings import ConfigError
from tests.harness import run_failing_program, size_config


def cheapest_fit(model: str, nodes: int = 1) -> str:
    """What the message should lead with: the catalog's cheapest fitting size and its eastus price."""
    size = ADDON.sizes_that_fit(model, nodes, "eastus")[0]
    return f"cheapest first in eastus: {size.name} (${prices.usd_per_hour(size.name, 'eastus'):g}/h)"


CASES = {
    "unknown model size": (
        size_config("huge"),
        ["kaito-aks:modelSize 'huge'", "is not a model size", "cpu (no GPU)", "small", "medium", "large"],
    ),
    "unknown model": (
        size_config("small", model="phi-5-mini"),
        ["kaito-aks:model 'phi-5-mini'", "phi-4-mini-instruct"],
    ),
    "instance type kaito-aks does not know": (
        size_config("small", instanceType="Standard_B2s"),
        ["kaito-aks:instanceType 'Standard_B2s'", "stacks/data/vm-sizes.csv", cheapest_fit("phi-4-mini-instruct")],
    ),
    "instance type with too little GPU memory": (
        size_config("medium", instanceType="Standard_NV36ads_A10_v5"),
        ["kaito-aks:instanceType 'Standard_NV36ads_A10_v5'", "24 GiB", "40 GiB", cheapest_fit("phi-4")],
    ),
    "instance type with too few GPUs": (
        size_config("large", instanceType="Standard_NC24ads_A100_v4"),
        ["kaito-aks:instanceType 'Standard_NC24ads_A100_v4'", "needs 4", cheapest_fit("llama-3.3-70b-instruct")],
    ),
    "a GPU model on a CPU size": (
        size_config("small", instanceType="Standard_D8s_v5"),
        ["kaito-aks:instanceType 'Standard_D8s_v5'", "no GPU", cheapest_fit("phi-4-mini-instruct")],
    ),
    "a retired size": (
        size_config("small", instanceType="Standard_NC6s_v3"),
        ["kaito-aks:instanceType 'Standard_NC6s_v3'", "retired", "kaito-aks does not",
         cheapest_fit("phi-4-mini-instruct")],
    ),
    "node count below one": (
        size_config("small", nodeCount=0),
        ["kaito-aks:nodeCount '0'", "at least 1"],
    ),
    "node count not a number": (
        size_config("small", nodeCount="two"),
        ["kaito-aks:nodeCount 'two'", "whole number"],
    ),
    "a model needing a token without one": (
        {"azure-native:location": "eastus", "kaito-aks:modelSize": "large"},
        ["kaito-aks:hfToken", "llama-3.3-70b-instruct", "pulumi config set --secret kaito-aks:hfToken"],
    ),
    "a namespace that is not a DNS-1123 label": (
        size_config("cpu", namespace="AI_Models"),
        ["kaito-aks:namespace 'AI_Models'", "DNS-1123", "'kaito'"],
    ),
    "a namespace the cluster owns": (
        size_config("cpu", namespace="kube-system"),
        ["kaito-aks:namespace 'kube-system'", "'kaito'"],
    ),
    "a namespace kaito-aks installs KAITO into": (
        size_config("small", "upstream", namespace="kaito-workspace"),
        ["kaito-aks:namespace 'kaito-workspace' is where kaito-aks installs KAITO's controller",
         "pulumi config set kaito-aks:namespace kaito"],
    ),
    "a namespace kaito-aks downloads weights in": (
        size_config("small", "upstream", namespace="kaito-weights", modelWeights="blob"),
        ["kaito-aks:namespace 'kaito-weights' is where kaito-aks installs the model weights' download"],
    ),
    "a workspace name that is not a DNS-1035 label": (
        size_config("small", workspaceName="phi.4"),
        ["kaito-aks:workspaceName 'phi.4'", "DNS-1035", "e.g."],
    ),
    "tags that are not a map": (
        size_config("cpu", tags="owner=me"),
        ["kaito-aks:tags 'owner=me'", "pulumi config set --path 'kaito-aks:tags.owner'"],
    ),
    "tags given as a list": (
        size_config("cpu", tags=["owner", "me"]),
        ["kaito-aks:tags", "not a map", "pulumi config set --path"],
    ),
    "a tag with a nested value": (
        size_config("cpu", tags={"owner": {"team": "ai"}}),
        ["kaito-aks:tags", 'owner {"team": "ai"} is not a plain value', "pulumi config set --path"],
    ),
    "a tag name Azure refuses": (
        size_config("cpu", tags={"cost/center": "42"}),
        ["kaito-aks:tags", "'cost/center'", "'cost-center'"],
    ),
    "a GPU preset on the cpu size": (
        size_config("cpu", model="phi-4"),
        ["kaito-aks:model 'phi-4'", "kaito-aks:modelSize", "qwen2.5-0.5b-instruct"],
    ),
    "a CPU model on a GPU size": (
        size_config("small", model="qwen2.5-0.5b-instruct"),
        ["kaito-aks:model 'qwen2.5-0.5b-instruct'", "modelSize to cpu", "phi-4-mini-instruct"],
    ),
    "a malformed Kubernetes version": (
        size_config("cpu", kubernetesVersion="latest"),
        ["kaito-aks:kubernetesVersion 'latest'", "1.33"],
    ),
    "a GPU size for the system pool": (
        size_config("cpu", systemNodeVmSize="Standard_NC24ads_A100_v4"),
        ["kaito-aks:systemNodeVmSize 'Standard_NC24ads_A100_v4'", "GPU size", "Standard_D"],
    ),
    "a system pool size with a typo": (
        size_config("cpu", systemNodeVmSize="Standard_D4_v5"),
        ["kaito-aks:systemNodeVmSize 'Standard_D4_v5'", "did you mean 'Standard_D4s_v5'?"],
    ),
    "a misspelt key": (
        {**size_config("cpu"), "kaito-aks:modelsize": "small"},
        ["kaito-aks:modelsize", "did you mean 'modelSize'?", "pulumi config rm kaito-aks:modelsize"],
    ),
    "a setting under a shortened namespace": (
        {**size_config("cpu"), "kaito:modelSize": "small"},
        ["kaito:modelSize is not read", "under 'kaito-aks:'", "pulumi config set kaito-aks:modelSize"],
    ),
    "a setting under a namespace without the dash": (
        {**size_config("cpu"), "kaitoaks:nodeCount": "2"},
        ["kaitoaks:nodeCount is not read", "pulumi config set kaito-aks:nodeCount"],
    ),
    "the region under the classic azure provider's namespace": (
        {"kaito-aks:modelSize": "cpu", "azure:location": "eastus"},
        ["azure:location is not read", "azure-native:location", "pulumi config set azure-native:location"],
    ),
    "the region under kaito-aks": (
        {**size_config("cpu"), "kaito-aks:location": "eastus"},
        ["kaito-aks:location is not read: the setting is azure-native:location"],
    ),
    "no region": (
        {"kaito-aks:modelSize": "cpu"},
        ["azure-native:location is not set", "pulumi config set azure-native:location eastus"],
    ),
    "a region that does not exist": (
        {**size_config("cpu"), "azure-native:location": "eastus3"},
        ["azure-native:location 'eastus3'", "did you mean", "az account list-locations"],
    ),
    "a region written as its display name": (
        {**size_config("cpu"), "azure-native:location": "West Europe"},
        ["azure-native:location 'West Europe'", "use 'westeurope'"],
    ),
    "an install mode that does not exist": (
        size_config("small", kaitoInstall="helm"),
        ["kaito-aks:kaitoInstall 'helm'", "addon", "upstream"],
    ),
    "an admin group that is not an object ID": (
        size_config("cpu", clusterAdminGroups=["platform-admins"]),
        ["kaito-aks:clusterAdminGroups", "'platform-admins' is not an object ID", "az ad group show",
         "00000000-0000-0000-0000-000000000000"],
    ),
    "API server open to the whole internet": (
        size_config("cpu", apiServerAuthorizedIpRanges=["0.0.0.0/0"]),
        ["kaito-aks:apiServerAuthorizedIpRanges", "'0.0.0.0/0' opens the API server to the whole internet",
         "203.0.113.0/24"],
    ),
    "an AKS tier kaito-aks does not offer": (
        size_config("cpu", skuTier="Premium"),
        ["kaito-aks:skuTier 'Premium'", "Free", "Standard"],
    ),
    "an upgrade channel AKS does not have": (
        size_config("cpu", upgradeChannel="weekly"),
        ["kaito-aks:upgradeChannel 'weekly'", "patch", "node-image", "none"],
    ),
    "a node OS channel in the wrong case": (
        size_config("cpu", nodeOsUpgradeChannel="nodeimage"),
        ["kaito-aks:nodeOsUpgradeChannel 'nodeimage'", "did you mean 'NodeImage'?"],
    ),
    "a maintenance window at 25:00": (
        size_config("cpu", maintenanceStartTime="25:00"),
        ["kaito-aks:maintenanceStartTime '25:00'", "HH:mm", "'02:00'"],
    ),
    "a maintenance day that is not a day": (
        size_config("cpu", maintenanceDay="Sun"),
        ["kaito-aks:maintenanceDay 'Sun'", "Sunday"],
    ),
    "a pinned patch version that the patch channel would move": (
        size_config("cpu", kubernetesVersion="1.33.2"),
        ["kaito-aks:kubernetesVersion '1.33.2'", "refuses downgrades",
         "`pulumi config set kaito-aks:kubernetesVersion 1.33`"],
    ),
    "spot on the add-on, whose gpu-provisioner buys regular VMs only": (
        size_config("small", capacityType="spot"),
        ["kaito-aks:capacityType 'spot'", "regular-priority", "kaito-aks:kaitoInstall upstream",
         "`pulumi config rm kaito-aks:capacityType`"],
    ),
    "spot on upstream's legacy gpu-provisioner": (
        size_config("small", "upstream", capacityType="spot", nodeProvisioner="gpu-provisioner"),
        ["kaito-aks:capacityType 'spot' needs kaito-aks:nodeProvisioner karpenter",
         "`pulumi config set kaito-aks:nodeProvisioner karpenter`"],
    ),
    "a capacity type in Azure's spelling": (
        size_config("small", "upstream", capacityType="Spot"),
        ["kaito-aks:capacityType 'Spot'", "did you mean 'spot'?", "on-demand"],
    ),
    "copies of the model on the add-on, which has no InferenceSet": (
        size_config("small", maxReplicas=3),
        ["kaito-aks:maxReplicas '3'", "InferenceSet", "kaito-aks:kaitoInstall upstream", "pulumi config rm"],
    ),
    "copies of the CPU model, whose llama.cpp the scaler cannot read": (
        size_config("cpu", "upstream", maxReplicas=2),
        ["kaito-aks:maxReplicas '2' applies to GPU models", "vLLM's queue"],
    ),
    "more copies at least than at most": (
        size_config("small", "upstream", minReplicas=3, maxReplicas=2),
        ["kaito-aks:minReplicas '3' is more than kaito-aks:maxReplicas '2'",
         "`pulumi config set kaito-aks:maxReplicas 3`"],
    ),
    "a pinned version that the stable channel would move": (
        size_config("cpu", kubernetesVersion="1.33", upgradeChannel="stable"),
        ["kaito-aks:kubernetesVersion '1.33'", "kaito-aks:upgradeChannel 'stable'", "pulumi config rm"],
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
    # A wrong modelSize must not hide a missing region, a bad nodeCount or a bad namespace.
    config = {"kaito-aks:modelSize": "huge", "kaito-aks:nodeCount": "0", "kaito-aks:namespace": "Bad",
              "kaito-aks:kubernetesVersion": "x", "kaito:paused": "true"}
    error, _ = run_failing_program(config)
    message = str(error)
    for key in ("kaito-aks:modelSize 'huge'", "azure-native:location is not set", "kaito-aks:nodeCount '0'",
                "kaito-aks:namespace 'Bad'", "kaito-aks:kubernetesVersion 'x'", "kaito:paused is not read"):
        assert key in message, message
    assert message.count("\n  - ") == 6


def test_rules_between_settings_run_after_each_setting_is_read():
    error, _ = run_failing_program(size_config("small", exposure="public", budgetMonthlyUsd=100,
                                               instanceType="Standard_NC6s_v3"))
    message = str(error)
    assert "kaito-aks:allowedSourceRanges is empty" in message
    assert "kaito-aks:budgetContactEmails is empty" in message
    assert "kaito-aks:instanceType 'Standard_NC6s_v3'" in message


def test_a_typo_in_a_model_name_gets_a_suggestion():
    error, _ = run_failing_program(size_config("medium", model="phi4"))
    assert "did you mean 'phi-4'?" in str(error)


def test_the_token_is_never_echoed_in_an_error():
    token = "hf_secret_value_that_must_not_print"
    error, _ = run_failing_program(size_config("small", hfToken=token, nodeCount=-1))
    assert token not in str(error)


def test_every_region_in_the_table_is_accepted_and_suggestions_come_from_it():
    from stacks.regions import REGIONS, region_problem

    assert len(REGIONS) > 50 and {"eastus", "westeurope", "swedencentral", "newzealandnorth"} <= set(REGIONS)
    assert all(region_problem(name) is None for name in REGIONS)
    assert "eastus2euap" not in REGIONS and "asia" not in REGIONS  # canary and logical regions
    reason, fix = region_problem("swedencentrl")
    assert "did you mean 'swedencentral'?" in reason and "az account list-locations" in fix


def test_preflight_regions_are_checked_against_the_table_too():
    error, registered = run_failing_program(size_config("small", preflightRegions=["westeurope", "west-europe"]))
    assert "kaito-aks:preflightRegions" in str(error) and "'west-europe'" in str(error)
    assert "westeurope" in str(error).split("'west-europe'", 1)[1]
    assert registered == []
