"""What to build for each model size, per KAITO install mode: data, not code. `kaito-aks:modelSize` picks one."""

from __future__ import annotations

from dataclasses import dataclass

from stacks.catalog import TEMPLATE_MODELS


@dataclass(frozen=True)
class Profile:
    """One model size: the model, VM sizes in order of preference and how long readiness may take."""

    model: str
    """A GPU model of the install mode's KAITO, or a CPU model from catalog.TEMPLATE_MODELS."""
    instance_types: tuple[str, ...]
    """VM sizes that fit the model, most preferred first; the first that fits (and has quota) is used."""
    readiness_timeout_minutes: int
    """How long `pulumi up` waits for WorkspaceSucceeded: node provisioning plus model download."""
    summary: str

    @property
    def cpu_only(self) -> bool:
        """Served by llama.cpp on a CPU VM: no GPU quota needed."""
        return self.model in TEMPLATE_MODELS


CPU = Profile(
    model="qwen2.5-0.5b-instruct",
    instance_types=("Standard_D8s_v5", "Standard_D16s_v5"),
    readiness_timeout_minutes=30,
    summary="Qwen2.5-0.5B-Instruct on CPU (llama.cpp); no GPU quota needed",
)

# kaito-aks:kaitoInstall=addon: the AKS add-on's KAITO 0.6.0 presets.
ADDON_PROFILES: dict[str, Profile] = {
    "cpu": CPU,
    "small": Profile(
        model="phi-4-mini-instruct",
        instance_types=("Standard_NV36ads_A10_v5", "Standard_NC24ads_A100_v4", "Standard_NC40ads_H100_v5"),
        readiness_timeout_minutes=40,
        summary="Phi-4-mini-instruct on one A10",
    ),
    "medium": Profile(
        model="phi-4",
        instance_types=("Standard_NC24ads_A100_v4", "Standard_NC40ads_H100_v5"),
        readiness_timeout_minutes=45,
        summary="Phi-4 (14B) on one A100 80GB",
    ),
    "large": Profile(
        model="llama-3.3-70b-instruct",
        instance_types=("Standard_NC96ads_A100_v4", "Standard_ND96amsr_A100_v4"),
        readiness_timeout_minutes=75,
        summary="Llama-3.3-70B-Instruct on four A100 80GB (needs a Hugging Face token)",
    ),
}

# kaito-aks:kaitoInstall=upstream: KAITO 0.12 from its Helm charts serves newer Hugging Face models.
UPSTREAM_PROFILES: dict[str, Profile] = {
    "cpu": CPU,
    "small": Profile(
        model="Qwen/Qwen3-8B-AWQ",
        instance_types=("Standard_NV36ads_A10_v5", "Standard_NC24ads_A100_v4"),
        readiness_timeout_minutes=40,
        summary="Qwen3-8B (AWQ 4-bit) on one A10",
    ),
    "medium": Profile(
        model="openai/gpt-oss-20b",
        instance_types=("Standard_NC24ads_A100_v4", "Standard_NC40ads_H100_v5"),
        readiness_timeout_minutes=45,
        summary="gpt-oss-20b on one A100 80GB",
    ),
    "large": Profile(
        model="openai/gpt-oss-120b",
        # KAITO 0.12's estimator asks 3 GPUs of 80 GiB for it: one node with four, rather than two
        # nodes of two (same price, no model split across machines).
        instance_types=("Standard_NC96ads_A100_v4", "Standard_NC80adis_H100_v5", "Standard_NC48ads_A100_v4"),
        readiness_timeout_minutes=75,
        summary="gpt-oss-120b on one node with four A100 80GB",
    ),
}
