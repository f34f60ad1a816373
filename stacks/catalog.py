"""Facts about models and VM sizes: data only, read from stacks/data/*.csv (each file names its source).

Nothing here decides anything. What a KAITO version demands of a VM size lives with that version in
stacks/install_modes.py; prices live in stacks/prices.py.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"


@dataclass(frozen=True)
class VmSize:
    """An Azure VM size: GPUs as KAITO counts them, vCPUs, memory and quota family."""

    name: str
    gpu_model: str
    gpu_count: int
    total_gpu_memory_gib: float
    vcpus: int
    memory_gib: float
    quota_family: str
    """The family's counter name as the Compute usages API spells it."""

    @property
    def has_gpu(self) -> bool:
        return self.gpu_count > 0

    @property
    def per_gpu_memory_gib(self) -> float:
        return self.total_gpu_memory_gib / self.gpu_count if self.gpu_count else 0.0


@dataclass(frozen=True)
class AddonPreset:
    """A KAITO 0.6.0 preset (the AKS add-on) and the GPU resources its admission webhook demands."""

    name: str
    gpu_count: int
    total_gpu_memory_gib: float
    per_gpu_memory_gib: float
    needs_model_access_secret: bool
    """Weights download at run time: KAITO 0.6.0 requires presetOptions.modelAccessSecret (else rejects it)."""


@dataclass(frozen=True)
class UpstreamModel:
    """A Hugging Face model upstream KAITO 0.12 serves through vLLM, with its catalog figures."""

    name: str
    weights_gib: float | None
    """Size of the weights (modelFileSize); None for a Hugging Face id outside the curated list."""
    gated: bool | None
    """The repository needs an accepted licence (and a token); None when not known."""
    kv_cache_bytes_per_token: int | None = None
    """KV-cache bytes one token takes in fp16, as KAITO 0.12 computes it from the model's shape."""


@dataclass(frozen=True)
class KaitoGpuSize:
    """A VM size as a KAITO version's own SKU table counts its GPUs."""

    name: str
    gpu_count: int
    total_gpu_memory_gib: float


@dataclass(frozen=True)
class TemplateModel:
    """A small instruct model kaito-aks serves on CPU with llama.cpp (an `inference.template` Workspace)."""

    name: str
    hf_repo: str
    quantization: str
    parameters_billions: float
    min_vcpus: int
    min_memory_gib: int


def read_csv(name: str) -> list[dict[str, str]]:
    """Rows of a data file; lines starting with # are its provenance notes."""
    with open(DATA_DIR / name, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(line for line in handle if not line.startswith("#")))


def _gib(quantity: str) -> float:
    if not quantity.endswith("Gi"):
        raise ValueError(f"expected a Gi quantity, got {quantity!r}")
    return float(quantity[:-2])


VM_SIZES: dict[str, VmSize] = {
    row["sku"]: VmSize(
        name=row["sku"],
        gpu_model=row["gpu_model"],
        gpu_count=int(row["gpu_count"]),
        total_gpu_memory_gib=float(row["total_gpu_memory_gib"]),
        vcpus=int(row["vcpus"]),
        memory_gib=float(row["memory_gib"]),
        quota_family=row["quota_family"],
    )
    for row in read_csv("vm-sizes.csv")
}

ADDON_PRESETS: dict[str, AddonPreset] = {
    row["preset"]: AddonPreset(
        name=row["preset"],
        gpu_count=int(row["gpu_count"]),
        total_gpu_memory_gib=_gib(row["total_gpu_memory"]),
        per_gpu_memory_gib=_gib(row["per_gpu_memory"]),
        needs_model_access_secret=row["needs_model_access_secret"] == "True",
    )
    for row in read_csv("kaito-presets-addon-v0.6.0.csv")
}

def kv_cache_bytes_per_token(hidden_size: int, layers: int, heads: int, kv_heads: int, head_dim: int | None) -> int:
    """fp16 KV cache per token: 2 (K and V) x KV heads x head dim x layers x 2 bytes, the head dim
    defaulting to hidden size / attention heads (kaito-project/kaito@v0.12.0:presets/workspace/generator/
    generator.go calculateKVCacheTokenSize; the catalog models here use grouped-query attention)."""
    return 2 * kv_heads * (head_dim or hidden_size // heads) * layers * 2


_UPSTREAM_ROWS = read_csv("kaito-upstream-v0.12.0.csv")
UPSTREAM_MODELS: dict[str, UpstreamModel] = {
    row["name"]: UpstreamModel(
        row["name"], float(row["weights_gib"]), row["gated"] == "True",
        kv_cache_bytes_per_token(int(row["hidden_size"]), int(row["layers"]), int(row["heads"]),
                                 int(row["kv_heads"]), int(row["head_dim"]) if row["head_dim"] else None),
    )
    for row in _UPSTREAM_ROWS if row["kind"] == "model"
}
UPSTREAM_SKUS: dict[str, KaitoGpuSize] = {
    row["name"]: KaitoGpuSize(row["name"], int(row["gpu_count"]), float(row["total_gpu_memory_gib"]))
    for row in _UPSTREAM_ROWS if row["kind"] == "sku"
}

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

# Sizes a KAITO list names but kaito-aks will not use, and why (said back to the user verbatim).
# KAITO 0.6.0's webhook still accepts the V100 sizes: it is kaito-aks that refuses them.
EXCLUDED_SIZES: dict[str, str] = {
    **{
        name: "Azure retired the V100 sizes (NCv3) on 2025-09-30; KAITO 0.6.0 still lists them, kaito-aks does not"
        for name in ("Standard_NC6s_v3", "Standard_NC12s_v3", "Standard_NC24s_v3", "Standard_NC24rs_v3")
    },
    "Standard_ND96asr_A100_v4": "it is KAITO's spelling of an Azure size that exists only as Standard_ND96asr_v4",
    **{
        name: "the AKS AI toolchain operator add-on does not support AMD GPUs, and kaito-aks has no data for them"
        for name in ("Standard_NG32ads_V620_v1", "Standard_NG32adms_V620_v1")
    },
}


def is_hugging_face_id(name: str) -> bool:
    """owner/repo, as KAITO 0.9+ accepts for inference.preset.name."""
    owner, slash, repo = name.partition("/")
    return bool(owner and slash and repo and "/" not in repo and " " not in name)
