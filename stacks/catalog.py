"""Facts about models and VM sizes, loaded from the CSV tables in stacks/data (sources noted there).

Two kinds of model:
- KAITO presets (GPU): what KAITO 0.6.0's admission webhook demands of the VM size and node count.
- Template models (CPU): an OpenAI-compatible llama.cpp server kaito-aks describes itself, run by
  KAITO as an `inference.template` Workspace on a D-series VM, so a stack needs no GPU quota.

The fit rules mirror KAITO 0.6.0's webhook (api/v1beta1/workspace_validation.go): with `count`
nodes of a size, count x GPUs >= the preset's GPU count, each GPU's memory >= the preset's per-GPU
requirement, and count x total GPU memory >= the preset's total requirement.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from stacks import prices

DATA_DIR = Path(__file__).parent / "data"


@dataclass(frozen=True)
class PresetModel:
    """A KAITO 0.6.0 preset and the GPU resources its webhook demands."""

    name: str
    gpu_count: int
    total_gpu_memory_gib: float
    per_gpu_memory_gib: float
    needs_model_access_secret: bool


@dataclass(frozen=True)
class TemplateModel:
    """A small instruct model served on CPU by a pinned llama.cpp server image."""

    name: str
    hf_repo: str
    quantization: str
    parameters_billions: float
    min_vcpus: int
    min_memory_gib: int


@dataclass(frozen=True)
class VmSize:
    """An Azure VM size: GPUs as KAITO counts them, vCPUs, quota family and list price."""

    name: str
    gpu_model: str
    gpu_count: int
    total_gpu_memory_gib: float
    vcpus: int
    memory_gib: float
    quota_family: str

    @property
    def price(self) -> Optional[prices.Price]:
        """List price in the reference region (stacks/data/prices.csv)."""
        return prices.price_of(self.name)

    @property
    def price_usd_per_hour(self) -> Optional[float]:
        return self.price.usd_per_hour if self.price else None

    @property
    def has_gpu(self) -> bool:
        return self.gpu_count > 0

    @property
    def per_gpu_memory_gib(self) -> float:
        return self.total_gpu_memory_gib / self.gpu_count if self.gpu_count else 0.0


# The demo app and smoke test are standard-library Python, mounted from ConfigMaps: a stock image.
PYTHON_IMAGE = "python:3.12.7-slim-bookworm"

# Model served by the llama.cpp image below. The GGUF is downloaded from Hugging Face when the pod
# starts (public repository, no token), into a writable cache volume.
LLAMA_CPP_SERVER_IMAGE = "ghcr.io/ggml-org/llama.cpp:server-b8840"

TEMPLATE_MODELS: dict[str, TemplateModel] = {
    "qwen2.5-0.5b-instruct": TemplateModel(
        name="qwen2.5-0.5b-instruct",
        hf_repo="Qwen/Qwen2.5-0.5B-Instruct-GGUF",
        quantization="Q4_K_M",
        parameters_billions=0.5,
        min_vcpus=4,
        min_memory_gib=8,
    ),
}

# Sizes KAITO's list knows but kaito-aks will not use, and why (said back to the user verbatim).
EXCLUDED_SIZES: dict[str, str] = {
    "Standard_NC6s_v3": "V100 sizes were retired by Azure on 2025-09-30",
    "Standard_NC12s_v3": "V100 sizes were retired by Azure on 2025-09-30",
    "Standard_NC24s_v3": "V100 sizes were retired by Azure on 2025-09-30",
    "Standard_NC24rs_v3": "V100 sizes were retired by Azure on 2025-09-30",
    "Standard_ND96asr_A100_v4": "it is KAITO's spelling of an Azure size that exists only as Standard_ND96asr_v4",
    "Standard_NG32ads_V620_v1": "the AKS AI toolchain operator add-on does not support AMD GPUs",
    "Standard_NG32adms_V620_v1": "the AKS AI toolchain operator add-on does not support AMD GPUs",
}


def _read_csv(name: str) -> list[dict[str, str]]:
    with open(DATA_DIR / name, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(line for line in handle if not line.startswith("#")))


def _gib(quantity: str) -> float:
    if not quantity.endswith("Gi"):
        raise ValueError(f"expected a Gi quantity, got {quantity!r}")
    return float(quantity[:-2])


def load_presets() -> dict[str, PresetModel]:
    return {
        row["preset"]: PresetModel(
            name=row["preset"],
            gpu_count=int(row["gpu_count"]),
            total_gpu_memory_gib=_gib(row["total_gpu_memory"]),
            per_gpu_memory_gib=_gib(row["per_gpu_memory"]),
            needs_model_access_secret=row["needs_model_access_secret"] == "True",
        )
        for row in _read_csv("kaito-presets-addon-v0.6.0.csv")
    }


def load_vm_sizes() -> dict[str, VmSize]:
    return {
        row["sku"]: VmSize(
            name=row["sku"],
            gpu_model=row["gpu_model"],
            gpu_count=int(row["gpu_count"]),
            total_gpu_memory_gib=float(row["total_gpu_memory_gib"]),
            vcpus=int(row["vcpus"]),
            memory_gib=float(row["memory_gib"]),
            quota_family=row["quota_family"],
        )
        for row in _read_csv("vm-sizes.csv")
    }


PRESETS: dict[str, PresetModel] = load_presets()
VM_SIZES: dict[str, VmSize] = load_vm_sizes()

# --- install modes ---------------------------------------------------------------------------
ADDON = "addon"
UPSTREAM = "upstream"
INSTALL_MODES = (ADDON, UPSTREAM)
KAITO_VERSION = {ADDON: "0.6.0", UPSTREAM: "0.12.0"}
# KAITO 0.12's webhook only asks total GPU memory >= the weights; the server also needs room for
# the KV cache and activations, so kaito-aks asks for this much more before it calls a size a fit.
UPSTREAM_MEMORY_MARGIN = 1.2


@dataclass(frozen=True)
class UpstreamModel:
    """A Hugging Face model upstream KAITO 0.12 serves through vLLM."""

    name: str
    weights_gib: Optional[float]
    """None for a Hugging Face id outside the curated list: its size is not known here."""
    gated: Optional[bool]
    """None when not known: then the token is used if one is set."""


def load_upstream() -> tuple[dict[str, UpstreamModel], frozenset[str]]:
    rows = _read_csv("kaito-upstream-v0.12.0.csv")
    models = {
        row["name"]: UpstreamModel(row["name"], float(row["weights_gib"]), row["gated"] == "True")
        for row in rows if row["kind"] == "model"
    }
    return models, frozenset(row["name"] for row in rows if row["kind"] == "sku")


UPSTREAM_MODELS, UPSTREAM_SKUS = load_upstream()


def is_hugging_face_id(name: str) -> bool:
    owner, slash, repo = name.partition("/")
    return bool(owner and slash and repo and "/" not in repo and " " not in name)


def upstream_model(name: str) -> Optional[UpstreamModel]:
    """A curated model, a generic Hugging Face id (size unknown), or None."""
    if name in UPSTREAM_MODELS:
        return UPSTREAM_MODELS[name]
    return UpstreamModel(name, None, None) if is_hugging_face_id(name) else None


def is_gpu_model(name: str, install: str) -> bool:
    return name in PRESETS if install == ADDON else upstream_model(name) is not None


def model_shortfalls(model: str, size: VmSize, node_count: int, install: str = ADDON) -> list[str]:
    """Why `size` x `node_count` cannot serve `model` under this install mode (empty: it can)."""
    if model in TEMPLATE_MODELS:
        return template_shortfalls(TEMPLATE_MODELS[model], size)
    if not size.has_gpu:
        return [f"{size.name} has no GPU; {model} is a GPU model"]
    if install == ADDON:
        return preset_shortfalls(PRESETS[model], size, node_count)
    if size.name not in UPSTREAM_SKUS:
        return [f"{size.name} is not a size KAITO {KAITO_VERSION[UPSTREAM]} provisions (no T4 or V100)"]
    upstream = upstream_model(model)
    if upstream is None or upstream.weights_gib is None:
        return []
    needed = upstream.weights_gib * UPSTREAM_MEMORY_MARGIN
    total = node_count * size.total_gpu_memory_gib
    if total < needed:
        return [
            f"{node_count} x {size.name} has {total:g} GiB of GPU memory; {model}'s weights are "
            f"{upstream.weights_gib:g} GiB and serving them needs about {needed:.0f} GiB"
        ]
    return []


def needs_model_access_secret(model: str, install: str, token_set: bool) -> bool:
    """KAITO 0.6.0: required for run-time downloads, rejected otherwise. 0.12: for gated models."""
    if install == ADDON:
        return model in PRESETS and PRESETS[model].needs_model_access_secret
    upstream = upstream_model(model)
    if upstream is None:
        return False
    return upstream.gated if upstream.gated is not None else token_set


def preset_shortfalls(preset: PresetModel, size: VmSize, node_count: int) -> list[str]:
    """Why KAITO 0.6.0's webhook would reject `preset` on `node_count` nodes of `size` (empty: fits)."""
    problems = []
    if node_count * size.gpu_count < preset.gpu_count:
        problems.append(
            f"{node_count} x {size.name} has {node_count * size.gpu_count} GPU(s); "
            f"{preset.name} needs {preset.gpu_count}"
        )
    if size.gpu_count and size.per_gpu_memory_gib < preset.per_gpu_memory_gib:
        problems.append(
            f"{size.name} has {size.per_gpu_memory_gib:g} GiB per GPU; "
            f"{preset.name} needs {preset.per_gpu_memory_gib:g} GiB per GPU"
        )
    if node_count * size.total_gpu_memory_gib < preset.total_gpu_memory_gib:
        problems.append(
            f"{node_count} x {size.name} has {node_count * size.total_gpu_memory_gib:g} GiB of GPU memory; "
            f"{preset.name} needs {preset.total_gpu_memory_gib:g} GiB"
        )
    return problems


def template_shortfalls(model: TemplateModel, size: VmSize) -> list[str]:
    """Why `size` cannot serve the CPU `model` (empty: fits)."""
    problems = []
    if size.has_gpu:
        problems.append(f"{size.name} is a GPU size; CPU models run on Standard_D* sizes")
    if size.vcpus < model.min_vcpus:
        problems.append(f"{size.name} has {size.vcpus} vCPUs; {model.name} needs {model.min_vcpus}")
    if size.memory_gib < model.min_memory_gib:
        problems.append(f"{size.name} has {size.memory_gib:g} GiB of memory; {model.name} needs {model.min_memory_gib}")
    return problems


def sizes_that_fit(model_name: str, node_count: int, install: str = ADDON) -> list[VmSize]:
    """Every catalog size that can serve `model_name` on `node_count` nodes, cheapest first."""
    fits = [s for s in VM_SIZES.values() if not model_shortfalls(model_name, s, node_count, install)]
    return sorted(fits, key=_price_order)


def _price_order(size: VmSize) -> tuple[bool, float, str]:
    # Sizes without a verified price go last; ties break on name so the order is stable.
    return (size.price_usd_per_hour is None, size.price_usd_per_hour or 0.0, size.name)
