"""The catalog holds KAITO 0.6.0's numbers and applies its webhook's fit rules."""

from __future__ import annotations

import pytest

from stacks import catalog
from stacks.profiles import PROFILES


def test_presets_carry_kaito_0_6_0_requirements():
    llama = catalog.PRESETS["llama-3.3-70b-instruct"]
    assert (llama.gpu_count, llama.total_gpu_memory_gib, llama.per_gpu_memory_gib) == (4, 320, 80)
    assert llama.needs_model_access_secret is True
    assert catalog.PRESETS["phi-4"].total_gpu_memory_gib == 40
    assert catalog.PRESETS["deepseek-r1-distill-llama-8b"].total_gpu_memory_gib == 16.5
    assert catalog.PRESETS["phi-4"].needs_model_access_secret is False
    assert len(catalog.PRESETS) == 22


def test_vm_sizes_carry_gpus_vcpus_quota_family_and_dated_price():
    a100x4 = catalog.VM_SIZES["Standard_NC96ads_A100_v4"]
    assert (a100x4.gpu_count, a100x4.total_gpu_memory_gib, a100x4.vcpus) == (4, 320, 96)
    assert a100x4.quota_family == "StandardNCADSA100v4Family"
    assert (a100x4.price.usd_per_hour, a100x4.price.region, a100x4.price.as_of) == (14.692, "eastus", "2024-08")
    assert catalog.VM_SIZES["Standard_D8s_v5"].has_gpu is False


def test_retired_and_unsupported_sizes_are_not_in_the_catalog():
    for name in catalog.EXCLUDED_SIZES:
        assert name not in catalog.VM_SIZES


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
def test_preset_fit_follows_the_kaito_webhook(model, size, nodes, fits):
    shortfalls = catalog.preset_shortfalls(catalog.PRESETS[model], catalog.VM_SIZES[size], nodes)
    assert (shortfalls == []) is fits, shortfalls


def test_sizes_that_fit_are_listed_cheapest_first():
    fitting = catalog.sizes_that_fit("phi-4", 1)
    prices = [s.price_usd_per_hour for s in fitting if s.price_usd_per_hour is not None]
    assert prices == sorted(prices)
    assert fitting[0].name == "Standard_NC24ads_A100_v4"
    assert "Standard_NV36ads_A10_v5" not in [s.name for s in fitting]


def test_cpu_models_fit_only_cpu_sizes_with_enough_room():
    names = [s.name for s in catalog.sizes_that_fit("qwen2.5-0.5b-instruct", 1)]
    assert names == ["Standard_D4s_v5", "Standard_D8s_v5", "Standard_D16s_v5", "Standard_D32s_v5"]


@pytest.mark.parametrize("model_size", PROFILES)
def test_every_profile_size_fits_its_model(model_size):
    profile = PROFILES[model_size]
    first = catalog.VM_SIZES[profile.instance_types[0]]
    if profile.model in catalog.PRESETS:
        assert catalog.preset_shortfalls(catalog.PRESETS[profile.model], first, 1) == []
    else:
        assert catalog.template_shortfalls(catalog.TEMPLATE_MODELS[profile.model], first) == []
    for name in profile.instance_types:
        assert name in catalog.VM_SIZES


def test_the_cpu_model_image_is_pinned_to_a_build():
    assert catalog.LLAMA_CPP_SERVER_IMAGE.rsplit(":", 1)[1].startswith("server-b")
