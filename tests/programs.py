"""Config for each model size, shared by the program tests."""

from __future__ import annotations

from typing import Any

HF_TOKEN = "hf_test_token_do_not_leak_0123456789"


def size_config(model_size: str, **overrides: Any) -> dict[str, Any]:
    """Minimal config for a stack of `model_size` (plus a token where the model needs one)."""
    config: dict[str, Any] = {"azure-native:location": "eastus", "kaito-aks:modelSize": model_size}
    if model_size == "large":
        config["kaito-aks:hfToken"] = HF_TOKEN
    config.update({f"kaito-aks:{k}": v for k, v in overrides.items()})
    return config
