"""Spot GPUs (kaito-aks:capacityType): what Karpenter is told to buy, what it costs, what quota it needs, and where
it is refused (tests/test_bad_config.py has the refusals' messages)."""

from __future__ import annotations

import jsonschema
import yaml

from components.workspace import CAPACITY_TYPE_LABEL, REPLACE_ON_CHANGES
from scripts import changes
from stacks import cost, preflight, prices
from stacks.profiles import UPSTREAM_PROFILES
from tests.fake_azure import FakeAzure, karpenter_vm
from tests.harness import WORKSPACE, settings_of, size_config, size_program
from tests.test_upstream import SCHEMA_V012, SCHEMAS, manifest, release, upstream

KAITO_VALUES = yaml.safe_load((SCHEMAS.parent / "upstream" / "kaito-workspace-0.12.0-values.yaml").read_text())
SUBSCRIPTION = "00000000-0000-0000-0000-0000000000aa"


def spot_stack():
    return upstream("small", capacityType="spot")


def match_labels(run) -> dict[str, str]:
    return manifest(run)["resource"]["labelSelector"]["matchLabels"]


def test_karpenter_is_told_to_buy_on_demand_unless_spot_is_asked_for():
    # Without a capacity-type requirement Azure Karpenter takes the cheapest offering, which is spot.
    on_demand, spot = upstream("small"), spot_stack()
    assert match_labels(on_demand)[CAPACITY_TYPE_LABEL] == "on-demand"
    assert match_labels(spot)[CAPACITY_TYPE_LABEL] == "spot"
    for run in (on_demand, spot):
        jsonschema.validate(manifest(run), SCHEMA_V012)
        # The Workspace's own node label stays, so the GPU metrics exporter still finds the model's nodes.
        assert match_labels(run)["apps"] == manifest(run)["metadata"]["name"]


def test_gpu_provisioner_stacks_carry_no_capacity_type():
    # gpu-provisioner has no choice to make (regular pools only); their Workspaces keep their labelSelector, so
    # neither the add-on's nor upstream's legacy stacks are replaced.
    for run in (size_program("small"), upstream("small", nodeProvisioner="gpu-provisioner")):
        assert CAPACITY_TYPE_LABEL not in match_labels(run)


def test_spot_lets_kaitos_device_plugin_tolerate_the_spot_taint():
    values = release(spot_stack(), "kaito-workspace").inputs["values"]
    assert values["spotInstance"] == {"enabled": True}
    assert "enabled" in KAITO_VALUES["spotInstance"]  # the chart's own key at the pinned version
    assert "spotInstance" not in release(upstream("small"), "kaito-workspace").inputs["values"]


def test_switching_to_spot_replaces_the_model_and_says_why():
    before, after = upstream("small"), spot_stack()
    old, new = before.one(WORKSPACE), after.one(WORKSPACE)
    assert old.urn == new.urn
    assert changes.planned_operation(old.inputs, new.inputs, new.replace_on_changes) == "replace"
    minutes = UPSTREAM_PROFILES["small"].readiness_timeout_minutes
    (sentence,) = changes.describe_workspace_change(old.inputs, new.inputs, REPLACE_ON_CHANGES, minutes)
    assert sentence.startswith("changing kaito-aks:capacityType (how the model's nodes are bought) replaces the model")


def test_the_estimate_prices_spot_nodes_at_the_spot_price():
    run = spot_stack()
    settings = settings_of(size_config("small", "upstream", capacityType="spot"))
    on_demand = cost.estimate(settings_of(size_config("small", "upstream")))
    spot_price = prices.price_of(prices.spot_sku(settings.instance_type), settings.location)
    list_price = prices.price_of(settings.instance_type, settings.location)
    assert spot_price is not None and spot_price.usd_per_hour < list_price.usd_per_hour
    saved = (list_price.usd_per_hour - spot_price.usd_per_hour) * settings.node_count
    assert run.outputs["estimatedHourlyCostUsd"] == round(on_demand.hourly_usd - saved, 4)
    assert "spot at its recorded price" in run.outputs["estimatedCostBasis"]
    assert "spot at its recorded price" not in on_demand.basis()


def test_a_size_without_a_recorded_spot_price_is_estimated_at_the_most_spot_can_cost():
    size = next(name for name in UPSTREAM_PROFILES["medium"].instance_types
                if prices.price_of(prices.spot_sku(name), "eastus") is None)
    settings = settings_of(size_config("medium", "upstream", capacityType="spot", instanceType=size))
    (model_line,) = [line for line in cost.estimate(settings).lines if line.item.startswith("model nodes")]
    assert model_line.sku == size
    assert model_line.price == prices.price_of(size, "eastus")
    assert "no spot price recorded" in model_line.item
    # Azure Karpenter offers spot only where a Spot meter exists: the user is told before anything is created.
    (notice,) = settings.notices
    assert f"no spot price for {size} in eastus" in notice and "./scripts/prices --region eastus" in notice
    assert not settings_of(size_config("medium", "upstream", capacityType="spot")).notices


def spot_preflight(azure: FakeAzure):
    return preflight.run_preflight(settings_of(size_config("small", "upstream", capacityType="spot")), azure,
                                   SUBSCRIPTION, sleep=lambda seconds: None)


def test_preflight_counts_spot_nodes_against_the_spot_quota_not_the_family():
    azure = FakeAzure()
    azure.set_usage("StandardNVADSA10v5Family", 0, 0)  # no on-demand A10 quota: irrelevant for spot
    azure.set_usage("lowPriorityCores", 0, 24)
    report = spot_preflight(azure)
    skipped, chosen = report.home.checks[:2]
    assert skipped.size == "Standard_NV36ads_A10_v5"
    assert skipped.problems == ["lowPriorityCores quota 0/24 vCPUs has no room for 36 more"]
    assert chosen.size == report.chosen == "Standard_NC24ads_A100_v4"
    assert chosen.family == "lowPriorityCores" and chosen.family_extra == 24


def test_no_spot_quota_says_how_to_ask_for_it():
    azure = FakeAzure()
    azure.set_usage("lowPriorityCores", 0, 0)
    report = spot_preflight(azure)
    assert report.chosen is None
    message = report.failure_message()
    assert "az quota update --resource-name lowPriorityCores" in message
    assert "--resource-type lowPriority" in message
    assert "--resource-type dedicated" not in message


def test_spot_vcpus_are_not_charged_to_the_regional_standard_quota():
    azure = FakeAzure()
    azure.set_usage("cores", 250, 260)  # room for the system pool (4) only
    azure.set_usage("lowPriorityCores", 0, 36)
    report = spot_preflight(azure)
    assert report.chosen == "Standard_NV36ads_A10_v5"
    assert report.home.checks[0].regional_extra == 4


def test_a_running_spot_node_needs_no_room_a_second_time():
    # The usages already count the stack's own spot VM: the next `pulumi up` keeps its size.
    azure = FakeAzure()
    azure.set_usage("lowPriorityCores", 36, 36)
    azure.karpenter = [karpenter_vm("Standard_NV36ads_A10_v5", "Spot")]
    report = spot_preflight(azure)
    assert report.chosen == "Standard_NV36ads_A10_v5"
    assert report.home.checks[0].family_extra == 0


def test_a_running_on_demand_karpenter_node_counts_against_its_family_once():
    azure = FakeAzure()
    azure.set_usage("StandardNVADSA10v5Family", 36, 36)
    azure.karpenter = [karpenter_vm("Standard_NV36ads_A10_v5")]
    report = preflight.run_preflight(settings_of(size_config("small", "upstream")), azure, SUBSCRIPTION,
                                     sleep=lambda seconds: None)
    assert report.chosen == "Standard_NV36ads_A10_v5"
    assert ("karpenter", ("rg-kaito-aks-test", "aks-kaito-aks-test")) in azure.calls


def test_a_size_azure_does_not_sell_as_spot_is_skipped():
    azure = FakeAzure()
    azure.set_capability("Standard_NV36ads_A10_v5", "LowPriorityCapable", "False")
    azure.set_usage("lowPriorityCores", 0, 60)
    report = spot_preflight(azure)
    assert report.home.checks[0].problems == ["not sold as spot in this region (LowPriorityCapable False)"]
    assert report.chosen == "Standard_NC24ads_A100_v4"
