"""How KAITO gets into the cluster (`kaito-aks:kaitoInstall`): one object per mode.

Each mode knows its KAITO version, the models and profiles it serves, what kaito-aks installs for
it, and the rules its KAITO applies to a model on a VM size. Nothing else in the program compares
mode names: it asks the mode.
"""

from __future__ import annotations

import difflib
from abc import ABC, abstractmethod
from collections.abc import Mapping

from components.serving_metrics import VLLM_0_9, VLLM_0_25, Engine
from stacks import prices
from stacks.catalog import (
    ADDON_PRESETS,
    TEMPLATE_MODELS,
    UPSTREAM_MODELS,
    UPSTREAM_SKUS,
    VM_SIZES,
    AddonPreset,
    KaitoGpuSize,
    TemplateModel,
    UpstreamModel,
    VmSize,
    is_hugging_face_id,
)
from stacks.profiles import ADDON_PROFILES, UPSTREAM_PROFILES, Profile


class InstallMode(ABC):
    """One way of running KAITO on the cluster."""

    name: str
    kaito_version: str
    title: str
    profiles: Mapping[str, Profile]
    enables_aks_addon: bool
    """The AKS AI toolchain operator add-on is turned on (AKS runs KAITO)."""
    installs_kaito: bool
    """kaito-aks installs KAITO itself from its Helm charts."""
    model_without_token: str
    """A GPU model of this mode that needs no Hugging Face token, for messages."""
    serving_engine: Engine
    """What serves this mode's GPU models, whose metrics the dashboard and alerts read: vLLM, the runtime KAITO
    picks without a kaito.sh/runtime annotation (kaito-project/kaito@v0.6.0 and @v0.12.0:api/v1beta1/labels.go
    GetWorkspaceRuntimeName), at the version that KAITO pins."""

    # --- models -------------------------------------------------------------------------------

    @abstractmethod
    def is_gpu_model(self, name: str) -> bool:
        """A model this mode's KAITO serves as a preset."""

    @abstractmethod
    def gpu_models(self) -> list[str]:
        """The GPU models kaito-aks knows for this mode, sorted."""

    def is_known_model(self, name: str) -> bool:
        return name in TEMPLATE_MODELS or self.is_gpu_model(name)

    def model_size_unknown(self, name: str) -> bool:
        """A model this mode serves best-effort, whose GPU memory needs kaito-aks cannot check."""
        return False

    def weights_gib(self, name: str) -> float | None:
        """The size of a model's weights files as KAITO's catalog records it; None where kaito-aks does not know."""
        return None

    @abstractmethod
    def needs_model_access_secret(self, model: str, token_set: bool) -> bool:
        """Whether the Workspace must carry presetOptions.modelAccessSecret."""

    @abstractmethod
    def token_reason(self, model: str) -> str:
        """Why `model` needs a Hugging Face token, as the end of a sentence."""

    # --- sizes ---------------------------------------------------------------------------------

    @abstractmethod
    def gpu_shortfalls(self, model: str, size: VmSize, node_count: int) -> list[str]:
        """Why `node_count` x `size` cannot serve the GPU `model` here (empty: it can)."""

    def shortfalls(self, model: str, size: VmSize, node_count: int) -> list[str]:
        """Why `node_count` x `size` cannot serve `model` (empty: it can)."""
        if model in TEMPLATE_MODELS:
            return template_shortfalls(TEMPLATE_MODELS[model], size)
        if not size.has_gpu:
            return [f"{size.name} has no GPU; {model} is a GPU model"]
        return self.gpu_shortfalls(model, size, node_count)

    def model_nodes(self, model: str, size: VmSize, requested: int) -> int:
        """How many nodes of `size` KAITO creates for `model` when the Workspace asks for `requested`."""
        return requested

    def nodes_are_computed(self, model: str) -> bool:
        """KAITO decides the node count itself (kaito-aks:nodeCount does not apply)."""
        return False

    def pod_security_level(self, model: str) -> str:
        """The strictest Pod Security Standard KAITO's pods for `model` pass (the namespace enforces it)."""
        return "baseline"

    def sizes_that_fit(self, model: str, node_count: int, region: str) -> list[VmSize]:
        """Every catalog size that can serve `model`, cheapest first in `region` for the nodes it takes."""
        fits = [size for size in VM_SIZES.values() if not self.shortfalls(model, size, node_count)]
        return sorted(fits, key=lambda size: _price_order(size, self.model_nodes(model, size, node_count), region))

    # --- messages ------------------------------------------------------------------------------

    def unknown_model_message(self, key: str, model: str) -> str:
        known = self.gpu_models()
        return (
            f"{key} '{model}' is not a model KAITO {self.kaito_version} serves here nor a CPU model kaito-aks "
            f"serves; use one of {', '.join(known)} (GPU) or {', '.join(sorted(TEMPLATE_MODELS))} (CPU)"
            + closest_hint(model, [*known, *TEMPLATE_MODELS])
        )


class AddonMode(InstallMode):
    """The AKS AI toolchain operator add-on: KAITO 0.6.0, run and upgraded by AKS."""

    name = "addon"
    kaito_version = "0.6.0"
    title = "the AKS AI toolchain operator add-on"
    profiles = ADDON_PROFILES
    enables_aks_addon = True
    installs_kaito = False
    model_without_token = "phi-4"
    serving_engine = VLLM_0_9

    def is_gpu_model(self, name: str) -> bool:
        return name in ADDON_PRESETS

    def gpu_models(self) -> list[str]:
        return sorted(ADDON_PRESETS)

    def needs_model_access_secret(self, model: str, token_set: bool) -> bool:
        # KAITO 0.6.0 requires the secret for presets whose weights download at run time and
        # rejects it for every other preset, so a token set for another model is not used.
        return model in ADDON_PRESETS and ADDON_PRESETS[model].needs_model_access_secret

    def token_reason(self, model: str) -> str:
        return "downloads its weights from Hugging Face at run time"

    def gpu_shortfalls(self, model: str, size: VmSize, node_count: int) -> list[str]:
        return addon_preset_shortfalls(ADDON_PRESETS[model], size, node_count)


class UpstreamMode(InstallMode):
    """KAITO 0.12 installed by kaito-aks from KAITO's Helm charts."""

    name = "upstream"
    kaito_version = "0.12.0"
    title = "KAITO from its Helm charts"
    profiles = UPSTREAM_PROFILES
    enables_aks_addon = False
    installs_kaito = True
    model_without_token = "openai/gpt-oss-20b"
    serving_engine = VLLM_0_25

    def model(self, name: str) -> UpstreamModel | None:
        """A curated model, a generic Hugging Face id (size unknown), or None."""
        if name in UPSTREAM_MODELS:
            return UPSTREAM_MODELS[name]
        return UpstreamModel(name, None, None) if is_hugging_face_id(name) else None

    def is_gpu_model(self, name: str) -> bool:
        return self.model(name) is not None

    def gpu_models(self) -> list[str]:
        return sorted(UPSTREAM_MODELS)

    def model_size_unknown(self, name: str) -> bool:
        model = self.model(name)
        return model is not None and model.weights_gib is None

    def weights_gib(self, name: str) -> float | None:
        model = self.model(name)
        return None if model is None else model.weights_gib

    def needs_model_access_secret(self, model: str, token_set: bool) -> bool:
        known = self.model(model)
        if known is None:
            return False
        # A model of unknown gating gets the token when one is set: KAITO passes it to the download.
        return known.gated if known.gated is not None else token_set

    def token_reason(self, model: str) -> str:
        return "is gated on Hugging Face"

    def nodes_are_computed(self, model: str) -> bool:
        return self.is_gpu_model(model)

    def pod_security_level(self, model: str) -> str:
        # These models' pods mount a hostPath for the CUDA toolkit their init container installs, which only
        # 'privileged' admits (kaito-project/kaito@v0.12.0:pkg/model/interface.go RequiresCUDAToolkit;
        # pkg/workspace/inference/preset_inferences.go, the cuda-toolkit-provisioner volume).
        return "privileged" if model in HOST_PATH_MODELS else "baseline"

    def gpu_shortfalls(self, model: str, size: VmSize, node_count: int) -> list[str]:
        if size.name not in UPSTREAM_SKUS:
            return [f"{size.name} is not a size KAITO {self.kaito_version} provisions (no T4 or V100)"]
        known = self.model(model)
        if known is None or known.weights_gib is None or known.kv_cache_bytes_per_token is None:
            return []
        estimate = estimate_nodes(known, UPSTREAM_SKUS[size.name])
        return [] if isinstance(estimate, int) else [estimate]

    def model_nodes(self, model: str, size: VmSize, requested: int) -> int:
        # KAITO 0.12 ignores resource.count for vLLM and computes status.targetNodeCount from the model
        # and the VM size (kaito-project/kaito@v0.12.0:pkg/workspace/controllers/workspace_controller.go,
        # the vLLM branch calls the node estimator); CPU (template) Workspaces keep `count`.
        known = self.model(model)
        if known is None or known.weights_gib is None or known.kv_cache_bytes_per_token is None:
            return requested
        if size.name not in UPSTREAM_SKUS:
            return requested
        estimate = estimate_nodes(known, UPSTREAM_SKUS[size.name])
        return estimate if isinstance(estimate, int) else requested


# KAITO 0.12's node estimator, kaito-project/kaito@v0.12.0:pkg/workspace/estimator/nodesestimator/estimator.go:
# vLLM may use this fraction of each GPU ...
GPU_MEMORY_UTILIZATION = 0.84
# ... weights take ~2% more once loaded than on disk ...
WEIGHT_EXPANSION_FACTOR = 1.02
# ... each GPU carries a fixed overhead plus one that grows with its share of the weights ...
BASE_OVERHEAD_GIB = 2.3
OVERHEAD_WEIGHT_FACTOR = 0.05
# ... and the KV cache is sized for this context length unless inference.config sets max-model-len
# (kaito-aks sets no inference.config).
DEFAULT_MAX_MODEL_LEN = 2048
GIB = 1024**3


def estimate_nodes(model: UpstreamModel, size: KaitoGpuSize, max_model_len: int = DEFAULT_MAX_MODEL_LEN) -> int | str:
    """status.targetNodeCount as KAITO 0.12 computes it, or why it refuses the size (its error, in words)."""
    assert model.weights_gib is not None and model.kv_cache_bytes_per_token is not None
    weights = model.weights_gib * GIB * WEIGHT_EXPANSION_FACTOR
    per_gpu = (size.total_gpu_memory_gib * GIB) // size.gpu_count
    available = per_gpu * GPU_MEMORY_UTILIZATION
    fixed_reserve = BASE_OVERHEAD_GIB * GIB + max_model_len * model.kv_cache_bytes_per_token / size.gpu_count
    if available <= fixed_reserve:
        return (f"{size.name}'s GPUs ({per_gpu / GIB:g} GiB each) are too small for {model.name}: KAITO's estimator "
                f"needs {fixed_reserve / GIB:.1f} GiB per GPU for overhead and KV cache alone")
    room_per_gpu = (available - fixed_reserve) / (1 + OVERHEAD_WEIGHT_FACTOR)
    gpus = int(weights / room_per_gpu) + 1
    return -(-gpus // size.gpu_count)


# KAITO 0.12 catalog models whose architecture needs the CUDA toolkit (DeepseekV4ForCausalLM, DeepseekV32ForCausalLM,
# GlmMoeDsaForCausalLM, or mistral-small-4-119b-2603), kaito-project/kaito@v0.12.0:presets/workspace/models/
# model_catalog.yaml.
HOST_PATH_MODELS = frozenset({
    "deepseek-ai/DeepSeek-V4-Flash-0731", "deepseek-ai/DeepSeek-V4-Pro", "deepseek-ai/DeepSeek-V3.2",
    "zai-org/GLM-5.2-FP8", "mistralai/Mistral-Small-4-119B-2603",
})
ADDON = AddonMode()
UPSTREAM = UpstreamMode()
INSTALL_MODES: dict[str, InstallMode] = {mode.name: mode for mode in (ADDON, UPSTREAM)}


def mode_serving(model: str, besides: InstallMode) -> InstallMode | None:
    """Another install mode that serves `model` as a GPU model, if any."""
    return next((mode for mode in INSTALL_MODES.values() if mode is not besides and mode.is_gpu_model(model)), None)


def addon_preset_shortfalls(preset: AddonPreset, size: VmSize, node_count: int) -> list[str]:
    """Why KAITO 0.6.0's webhook would reject `preset` on `node_count` nodes of `size` (empty: fits).

    With `count` nodes: count x GPUs >= the preset's GPU count, each GPU's memory >= the per-GPU
    requirement, count x total GPU memory >= the total requirement (api/v1beta1/workspace_validation.go).
    """
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


def closest_hint(text: str, names: list[str]) -> str:
    close = difflib.get_close_matches(text, names, n=1)
    return f" — did you mean '{close[0]}'?" if close else ""


def _price_order(size: VmSize, nodes: int, region: str) -> tuple[bool, float, int, str]:
    # Sizes without a known price go last; ties go to fewer nodes, then to the name, so the order is stable.
    hourly = prices.usd_per_hour(size.name, region)
    return (hourly is None, (hourly or 0.0) * nodes, nodes, size.name)
