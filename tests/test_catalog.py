"""The catalog holds KAITO's and Azure's numbers; each install mode applies its KAITO's fit rules to them."""

from __future__ import annotations

import re

import pytest

from stacks import prices
from stacks.catalog import ADDON_PRESETS, EXCLUDED_SIZES, TEMPLATE_MODELS, UPSTREAM_MODELS, UPSTREAM_SKUS, VM_SIZES
from stacks.install_modes import ADDON, INSTALL_MODES, UPSTREAM, addon_preset_shortfalls, template_shortfalls
from stacks.profiles import ADDON_PROFILES


def test_presets_carry_kaito_0_6_0_requirements():
    # Spot checks against shared/kaito/presets-addon-v0.6.0.csv (KAITO 0.6.0's webhook figures).
    llama = ADDON_PRESETS["llama-3.3-70b-instruct"]
    assert (llama.gpu_count, llama.total_gpu_memory_gib, llama.per_gpu_memory_gib) == (4, 320, 80)
    assert llama.needs_model_access_secret is True
    assert ADDON_PRESETS["phi-4"].total_gpu_memory_gib == 40
    assert ADDON_PRESETS["deepseek-r1-distill-llama-8b"].total_gpu_memory_gib == 16.5
    assert ADDON_PRESETS["phi-4"].needs_model_access_secret is False


def test_vm_sizes_carry_gpus_vcpus_and_quota_family():
    a100x4 = VM_SIZES["Standard_NC96ads_A100_v4"]
    assert (a100x4.gpu_count, a100x4.total_gpu_memory_gib, a100x4.vcpus) == (4, 320, 96)
    assert a100x4.quota_family == "StandardNCADSA100v4Family"
    assert VM_SIZES["Standard_D8s_v5"].has_gpu is False
    for size in VM_SIZES.values():
        assert size.vcpus > 0 and size.memory_gib > 0 and size.quota_family, size.name
        assert (size.gpu_count > 0) == (size.total_gpu_memory_gib > 0), size.name


def test_every_catalog_size_has_a_dated_price_in_the_reference_region():
    for name in VM_SIZES:
        price = prices.price_of(name, prices.REFERENCE_REGION)
        if price is None:
            continue  # named as unpriced in every estimate (tests/test_cost.py)
        assert price.usd_per_hour > 0 and re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", price.as_of), name


def test_retired_and_unsupported_sizes_are_not_in_the_catalog():
    for name in EXCLUDED_SIZES:
        assert name not in VM_SIZES


@pytest.mark.parametrize(
    ("model", "size", "nodes", "fits"),
    [
        ("phi-4", "Standard_NC24ads_A100_v4", 1, True),
        ("phi-4", "Standard_NV36ads_A10_v5", 1, False),  # 24 GiB < 40 GiB total
        ("phi-4", "Standard_NV36ads_A10_v5", 2, True),  # KAITO counts memory across nodes
        ("llama-3.3-70b-instruct", "Standard_NC96ads_A100_v4", 1, True),
        ("llama-3.3-70b-instruct", "Standard_NC48ads_A100_v4", 1, False),  # 2 GPUs < 4
        ("llama-3.3-70b-instruct", "Standard_NC48ads_A100_v4", 2, True),
        ("llama-3.3-70b-instruct", "Standard_NC64as_T4_v3", 5, False),  # 16 GiB per GPU < 80
        ("falcon-40b", "Standard_NC24ads_A100_v4", 1, False),  # needs 2 GPUs
    ],
)
def test_addon_fit_follows_the_kaito_0_6_0_webhook(model, size, nodes, fits):
    shortfalls = addon_preset_shortfalls(ADDON_PRESETS[model], VM_SIZES[size], nodes)
    assert (shortfalls == []) is fits, shortfalls


@pytest.mark.parametrize("region", ["eastus", "swedencentral"])
def test_sizes_that_fit_are_listed_cheapest_first_in_the_stacks_region(region):
    fitting = ADDON.sizes_that_fit("phi-4", 1, region)
    known = [prices.usd_per_hour(size.name, region) for size in fitting]
    priced = [price for price in known if price is not None]
    assert priced == sorted(priced)
    assert known[:len(priced)] == priced  # unpriced sizes go last
    assert all(not ADDON.shortfalls("phi-4", size, 1) for size in fitting)
    assert "Standard_NV36ads_A10_v5" not in [size.name for size in fitting]


def test_cpu_models_fit_only_cpu_sizes_with_enough_room():
    model = TEMPLATE_MODELS["qwen2.5-0.5b-instruct"]
    fitting = {size.name for size in ADDON.sizes_that_fit(model.name, 1, "eastus")}
    expected = {name for name, size in VM_SIZES.items()
                if not size.has_gpu and size.vcpus >= model.min_vcpus and size.memory_gib >= model.min_memory_gib}
    assert fitting == expected and fitting
    assert template_shortfalls(model, VM_SIZES["Standard_NC24ads_A100_v4"])


@pytest.mark.parametrize("mode", INSTALL_MODES.values(), ids=lambda mode: mode.name)
def test_every_profile_lists_only_sizes_that_fit_its_model(mode):
    for model_size, profile in mode.profiles.items():
        assert mode.is_known_model(profile.model), (mode.name, model_size)
        for name in profile.instance_types:
            assert not mode.shortfalls(profile.model, VM_SIZES[name], 1), (mode.name, model_size, name)


def test_the_same_size_names_exist_in_every_mode():
    assert {tuple(mode.profiles) for mode in INSTALL_MODES.values()} == {tuple(ADDON_PROFILES)}


def test_upstream_lists_only_sizes_kaito_0_12_provisions():
    assert "Standard_NC8as_T4_v3" not in UPSTREAM_SKUS
    refused = UPSTREAM.shortfalls("openai/gpt-oss-20b", VM_SIZES["Standard_NC64as_T4_v3"], 1)
    assert refused and "not a size KAITO 0.12.0 provisions" in refused[0]
    for model in UPSTREAM_MODELS.values():
        assert model.weights_gib and model.weights_gib > 0, model.name


def test_the_cpu_model_image_is_pinned_to_a_build():
    from stacks.images import LLAMA_CPP_SERVER_IMAGE

    tag = LLAMA_CPP_SERVER_IMAGE.split("@")[0].rsplit(":", 1)[1]
    assert tag.startswith("server-b")
