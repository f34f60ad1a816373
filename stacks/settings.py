"""The one place config is read. Every config problem is reported here, all at once, before any resource exists.

`read_settings()` reads the stack's config through pulumi.Config. `parse_settings()` is the pure part
every command shares (the offline plan, preflight, the CI helpers read stack files through it):
1. each key is read through its declaration (stacks/config.py): a wrong value names the key, the
   value and what would work;
2. rules that tie keys together run on the keys that read cleanly (a model on a VM size, a budget
   and its contacts, public exposure and its source ranges);
3. the result is one immutable, typed Settings, with the notices a user should read (an override
   that changed another choice) and the documentation placeholders still in the stack file.
ConfigError is a pulumi.RunError, so the CLI prints the message alone, without a Python traceback.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from components import gateway_platform, gpu_metrics, inference_autoscaler, kaito_install, karpenter, model_weights
from stacks import prices, pulumi_internals
from stacks.catalog import EXCLUDED_SIZES, VM_SIZES, VmSize
from stacks.config import AZURE, MAX_WORKSPACE_NAME, PROJECT, StackConfig, azure_safe, declarations, project_keys
from stacks.config_kinds import Invalid, closest_hint
from stacks.install_modes import INSTALL_MODES, InstallMode, mode_serving
from stacks.profiles import Profile

# RFC 5737 / RFC 3849 documentation ranges and RFC 2606 example domains: values shipped as
# placeholders in stack files, never real.
DOCUMENTATION_NETWORKS = tuple(
    ipaddress.ip_network(net) for net in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)
EXAMPLE_DOMAINS = ("example.com", "example.net", "example.org")
# Namespaces a stack's config may hold besides kaito-aks: (providers and Pulumi itself).
PROVIDER_NAMESPACES = ("azure-native", "kubernetes", "pulumi", "random", "tls")


# Namespaces kaito-aks installs its platform parts into, each created (and on destroy deleted) by them: the stack's
# own namespace must be another.
PLATFORM_NAMESPACES = {
    karpenter.NAMESPACE: "Azure Karpenter",
    kaito_install.KAITO_NAMESPACE: "KAITO's controller",
    kaito_install.PROVISIONER_NAMESPACE: "the gpu-provisioner",
    inference_autoscaler.NAMESPACE: "KEDA and KAITO's scaler",
    gpu_metrics.GPU_METRICS_NAMESPACE: "the GPU metrics exporter",
    model_weights.MIRROR_NAMESPACE: "the model weights' download",
    gateway_platform.GATEWAY_NAMESPACE: "Envoy Gateway",
    gateway_platform.AI_GATEWAY_NAMESPACE: "Envoy AI Gateway",
    gateway_platform.CERT_MANAGER_NAMESPACE: "cert-manager",
}

# The longest Workspace name an InferenceSet's copies can have (see _resolve).
MAX_REPLICATED_NAME = 46


class ConfigError(pulumi.RunError):
    """A stack config value is wrong; the message says which key, what value and what would work."""


@dataclass(frozen=True)
class ModelKeys:
    """Where one model's settings live, for messages: the stack's own (kaito-aks:model, ...) or an additional
    model's (kaito-aks:additionalModels.<name>.model, set with --path)."""

    entry: str | None = None
    """The additional model's name; None for the stack's own model."""

    def full(self, key: str) -> str:
        return f"{PROJECT}:{key}" if self.entry is None else f"{PROJECT}:additionalModels.{self.entry}.{key}"

    def set_command(self, key: str, value: str) -> str:
        if self.entry is None:
            return f"pulumi config set {self.full(key)} {value}"
        return f"pulumi config set --path '{self.full(key)}' {value}"

    def rm_command(self, key: str) -> str:
        if self.entry is None:
            return f"pulumi config rm {self.full(key)}"
        return f"pulumi config rm --path '{self.full(key)}'"

    @property
    def entry_key(self) -> str:
        """The additional model's entry, e.g. kaito-aks:additionalModels.ws-second."""
        return f"{PROJECT}:additionalModels.{self.entry}"


@dataclass(frozen=True)
class ServedModel:
    """One model the stack serves, resolved: which, on what VM size, how many nodes and copies."""

    workspace_name: str
    model: str
    model_size: str
    profile: Profile
    is_preset: bool
    """True for a GPU model KAITO serves as a preset; False for a CPU model kaito-aks serves with llama.cpp."""
    instance_type: str
    vm_size: VmSize
    instance_type_explicit: bool
    """Its instanceType is set: preflight then checks only that size."""
    candidate_instance_types: tuple[str, ...]
    """Sizes preflight may choose from, in order of preference (all fit the model)."""
    requested_nodes: int = 1
    """Its nodeCount setting (KAITO 0.12 computes its own count for vLLM models)."""
    min_replicas: int = 1
    max_replicas: int = 1
    keys: ModelKeys = ModelKeys()

    @property
    def replicated(self) -> bool:
        """More than one copy of the model may run: an InferenceSet, whose copies KEDA keeps between minReplicas
        and maxReplicas, instead of a Workspace."""
        return self.max_replicas > 1

    @property
    def additional(self) -> bool:
        """One of kaito-aks:additionalModels, not the stack's own model."""
        return self.keys.entry is not None


@dataclass(frozen=True)
class Settings:
    """Everything one stack needs, validated and resolved. Built only by parse_settings()."""

    config: StackConfig
    """Every setting's value, defaults applied."""
    stack: str
    mode: InstallMode
    models: tuple[ServedModel, ...]
    """The stack's own model first, then kaito-aks:additionalModels by name."""
    tags: Mapping[str, str]
    """Every Azure resource's tags: the user's, then the standard ones on top."""
    notices: tuple[str, ...] = ()
    """Things the user should know about how the settings were resolved (logged as warnings)."""
    placeholders: tuple[str, ...] = ()
    """Documentation placeholders still in the config, each with the command that sets a real value."""
    project: str = PROJECT

    @property
    def location(self) -> str:
        return self.config.location

    # The stack's own model (kaito-aks:model and the keys beside it), which single-model code reads directly.
    @property
    def primary(self) -> ServedModel:
        return self.models[0]

    @property
    def model(self) -> str:
        return self.primary.model

    @property
    def is_preset(self) -> bool:
        return self.primary.is_preset

    @property
    def instance_type(self) -> str:
        return self.primary.instance_type

    @property
    def vm_size(self) -> VmSize:
        return self.primary.vm_size

    @property
    def instance_type_explicit(self) -> bool:
        return self.primary.instance_type_explicit

    @property
    def candidate_instance_types(self) -> tuple[str, ...]:
        return self.primary.candidate_instance_types

    @property
    def workspace_name(self) -> str:
        return self.primary.workspace_name

    @property
    def profile(self) -> Profile:
        return self.primary.profile

    @property
    def node_count(self) -> int:
        """Nodes KAITO creates for the stack's own model: kaito-aks:nodeCount, or what KAITO 0.12 computes."""
        return self.copy_nodes(self.primary)

    def copy_nodes(self, served: ServedModel) -> int:
        """Nodes KAITO creates for one copy of `served` on its chosen VM size."""
        return self.nodes_on(served.vm_size, served)

    def nodes_on(self, size: VmSize, served: ServedModel | None = None) -> int:
        """Nodes KAITO creates for one copy of a model (the stack's own by default) on `size` (preflight weighs
        each candidate size with its own count)."""
        served = served or self.primary
        return self.mode.model_nodes(served.model, size, served.requested_nodes)

    def needs_access_secret(self, served: ServedModel) -> bool:
        """The model's Workspace carries the Hugging Face token (presetOptions.modelAccessSecret)."""
        return served.is_preset and self.mode.needs_model_access_secret(served.model, self.config.hf_token is not None)

    @property
    def needs_model_access_secret(self) -> bool:
        return self.needs_access_secret(self.primary)

    @property
    def replicated(self) -> bool:
        """Some model may run more than one copy (KEDA and its KAITO scaler are installed)."""
        return any(served.replicated for served in self.models)

    @property
    def blob_weights(self) -> bool:
        """The GPU models' weights are mirrored to the stack's Blob container and streamed from it."""
        return self.config.model_weights == "blob"

    def mirror_size_gib(self, served: ServedModel) -> int:
        """The space a model's mirror takes, as KAITO sizes it: its weights plus 80 GiB of system files (kaito-project/
        kaito@v0.12.0:presets/workspace/generator/generator.go calculateStorageSize); for a model outside the
        table, at most the GPU memory of the nodes it runs on holds its weights."""
        weights = self.mode.weights_gib(served.model)
        if weights is None:
            weights = served.vm_size.total_gpu_memory_gib * self.copy_nodes(served)
        return int(weights + model_weights.SYSTEM_FILES_GIB)

    @property
    def pod_security_level(self) -> str:
        """What the models' shared namespace enforces: the strictest level every model's pods pass."""
        levels = [self.mode.pod_security_level(served.model) for served in self.models]
        return min(levels, key=("privileged", "baseline", "restricted").index)

    @property
    def uses_karpenter(self) -> bool:
        """kaito-aks installs Azure Karpenter as KAITO's node provisioner (upstream mode)."""
        return self.mode.installs_kaito and self.config.node_provisioner == "karpenter"

    @property
    def public(self) -> bool:
        return self.config.exposure == "public"

    @property
    def resource_group_name(self) -> str:
        return f"rg-{self.project}-{azure_safe(self.stack)}"

    @property
    def cluster_name(self) -> str:
        return f"aks-{self.project}-{azure_safe(self.stack)}"

    def with_instance_types(self, chosen: Mapping[str, str]) -> Settings:
        """The same settings with other sizes of the candidates (preflight's choice), by Workspace name."""
        return dataclasses.replace(self, models=tuple(
            dataclasses.replace(served, instance_type=chosen[served.workspace_name],
                                vm_size=VM_SIZES[chosen[served.workspace_name]])
            if chosen.get(served.workspace_name, served.instance_type) != served.instance_type else served
            for served in self.models))


def read_settings() -> Settings:
    """Read this stack's config (the only place a Pulumi program run reads config) and validate it.

    Notices are logged as warnings. Documentation placeholders are a warning in a preview and an
    error in an update: `pulumi up` never creates a budget that mails example.com."""
    raw: dict[str, str | None] = {}
    for _, declared in declarations():
        raw[declared.full_key] = pulumi.Config(declared.namespace).get(declared.key)
    settings = parse_settings(raw, stack=pulumi.get_stack(), present_keys=pulumi_internals.present_config_keys())
    for notice in settings.notices:
        pulumi.log.warn(notice)
    if settings.placeholders:
        message = placeholder_message(settings.placeholders)
        if not pulumi.runtime.is_dry_run():
            raise ConfigError(message)
        pulumi.log.warn(message + " (`pulumi up` refuses them)")
    return settings


def placeholder_message(placeholders: Iterable[str]) -> str:
    return "the stack's config still holds documentation placeholders:\n  - " + "\n  - ".join(placeholders)


def parse_settings(raw: Mapping[str, str | None], stack: str, present_keys: Iterable[str] = ()) -> Settings:
    """Validate the config text of every declared key (full keys); raise one ConfigError listing every problem."""
    problems = [*_misplaced_key_problems(present_keys)]
    values: dict[str, Any] = {}
    invalid: set[str] = set()
    for name, declared in declarations():
        text = raw.get(declared.full_key)
        text = None if text is None else text.strip()
        if not text:
            if declared.required:
                problems.append(
                    f"{declared.full_key} is not set; {declared.description.rstrip('.')}: "
                    f"`pulumi config set {declared.full_key} eastus`"
                )
                invalid.add(name)
            continue
        try:
            values[name] = declared.kind.parse(text, declared.full_key)
        except Invalid as error:
            shown = "[secret]" if declared.kind.secret else text
            problems.append(f"{declared.full_key} '{shown}' {error.reason}; {error.fix}")
            invalid.add(name)
    config = StackConfig(**{name: value for name, value in values.items()})
    resolved = _resolve(config, invalid, stack, problems)
    if problems:
        raise ConfigError("invalid stack configuration:\n  - " + "\n  - ".join(problems))
    assert resolved is not None
    return resolved


def _resolve(config: StackConfig, invalid: set[str], stack: str, problems: list[str]) -> Settings | None:
    """The rules that tie settings together, on the keys that read cleanly."""
    key = f"{PROJECT}:"
    _exposure_rules(config, invalid, problems)
    _budget_rules(config, invalid, problems)
    _upgrade_rules(config, invalid, problems)
    _monitoring_rules(config, invalid, problems)
    if "namespace" not in invalid and config.namespace in PLATFORM_NAMESPACES:
        problems.append(
            f"{PROJECT}:namespace '{config.namespace}' is where kaito-aks installs "
            f"{PLATFORM_NAMESPACES[config.namespace]}, which creates and deletes it: "
            f"`pulumi config set {PROJECT}:namespace kaito` (or another name of its own)"
        )
    if {"kaito_install", "model_size"} & invalid:
        return None
    mode = INSTALL_MODES[config.kaito_install]
    if not mode.installs_kaito and "node_provisioner" not in invalid and config.node_provisioner != "karpenter":
        problems.append(
            f"{key}nodeProvisioner '{config.node_provisioner}' applies to {key}kaitoInstall upstream; "
            f"{mode.title} provisions its own nodes: `pulumi config rm {key}nodeProvisioner`"
        )
    _spot_rules(config, invalid, mode, problems)
    notices: list[str] = []
    requests = [ModelRequest(
        keys=ModelKeys(), model=config.model, model_size=config.model_size, instance_type=config.instance_type,
        node_count=config.node_count, min_replicas=config.min_replicas, max_replicas=config.max_replicas,
        workspace_name=config.workspace_name,
        invalid=frozenset(invalid & {"model", "instance_type", "node_count", "min_replicas", "max_replicas",
                                     "location"}))]
    if "additional_models" not in invalid:
        requests += [ModelRequest(
            keys=ModelKeys(name), model=entry.model, model_size=entry.model_size or config.model_size,
            instance_type=entry.instance_type, node_count=entry.node_count or 1,
            min_replicas=entry.min_replicas or 1, max_replicas=entry.max_replicas or 1, workspace_name=name,
            invalid=frozenset(invalid & {"location"}),
        ) for name, entry in config.additional_models.items()]
    served = [_resolve_model(config, mode, request, problems, notices) for request in requests]
    _several_models_rules(config, [model for model in served if model is not None], problems)
    _weights_rules(config, invalid, mode, [model for model in served if model is not None], problems)
    if any(model is None for model in served) or "additional_models" in invalid:
        return None
    standard_tags = {
        "project": PROJECT,
        "stack": stack,
        "environment": config.environment or stack,
        "modelSize": config.model_size,
        "managed-by": "pulumi",
    }
    if config.owner:
        standard_tags["owner"] = config.owner
    if config.expires_on:
        standard_tags["expiry"] = config.expires_on
    return Settings(
        config=config,
        stack=stack,
        mode=mode,
        models=tuple(model for model in served if model is not None),
        tags=dict(sorted({**config.tags, **standard_tags}.items())),
        notices=tuple(notices),
        placeholders=tuple(_placeholders(config)),
    )


@dataclass(frozen=True)
class ModelRequest:
    """One model as its settings ask for it, before it is resolved: the stack's own, or an additional one."""

    keys: ModelKeys
    model: str | None
    model_size: str
    instance_type: str | None
    node_count: int
    min_replicas: int
    max_replicas: int
    workspace_name: str | None
    invalid: frozenset[str] = frozenset()
    """Which of these fields did not read cleanly (their own problems are reported already)."""


def _resolve_model(config: StackConfig, mode: InstallMode, request: ModelRequest, problems: list[str],
                   notices: list[str]) -> ServedModel | None:
    """Which model, on which VM size and how many nodes: the rules for one model, with messages that name its
    keys."""
    keys = request.keys
    profile = mode.profiles[request.model_size]
    if "model" in request.invalid:
        return None
    model = request.model or profile.model
    if not mode.is_known_model(model):
        problems.append(_unknown_model_message(mode, model, keys))
        return None
    is_preset = mode.is_gpu_model(model)
    _replica_rules(request, mode, is_preset, problems)
    if is_preset and profile.cpu_only:
        problems.append(
            f"{keys.full('model')} '{model}' is a GPU model but {keys.full('modelSize')} is '{request.model_size}' "
            f"(no GPU); set {keys.full('modelSize')} to small, medium or large, or use a CPU model: {profile.model}"
        )
        return None
    if not is_preset and not profile.cpu_only:
        problems.append(
            f"{keys.full('model')} '{model}' runs on CPU but {keys.full('modelSize')} is '{request.model_size}'; set "
            f"{keys.full('modelSize')} to cpu, or pick a GPU model such as {profile.model}"
        )
        return None
    if mode.model_size_unknown(model) and request.instance_type is None:
        problems.append(
            f"{keys.full('model')} '{model}' is not in kaito-aks's list of KAITO {mode.kaito_version} models, so its "
            f"size is unknown here; KAITO serves it best-effort. Set {keys.full('instanceType')} to a GPU size with "
            f"room for its weights (e.g. Standard_NC24ads_A100_v4), or use a listed model: "
            f"{', '.join(mode.gpu_models())}"
        )
        return None
    if is_preset and config.hf_token is None and mode.needs_model_access_secret(model, token_set=False):
        problems.append(
            f"{PROJECT}:hfToken is not set, and {model} {mode.token_reason(model)}; accept the model's licence on "
            f"huggingface.co, create a read token and run `pulumi config set --secret {PROJECT}:hfToken <token>` (or "
            f"choose a model that needs none, e.g. {mode.model_without_token})"
        )
    if {"node_count", "instance_type", "location"} & request.invalid:
        return None
    if mode.nodes_are_computed(model) and request.node_count != 1:
        problems.append(
            f"{keys.full('nodeCount')} '{request.node_count}' is not used by KAITO {mode.kaito_version}: it computes "
            f"the node count of a vLLM Workspace itself, from the model and the VM size (resource.count is "
            f"deprecated); remove it with `{keys.rm_command('nodeCount')}`, or set {keys.full('instanceType')} to a "
            f"size with more GPUs (the plan shows the nodes KAITO will create)"
        )
        return None

    region = config.location
    nodes = request.node_count
    fitting_in_profile = [
        name for name in profile.instance_types if not mode.shortfalls(model, VM_SIZES[name], nodes)
    ]
    if request.instance_type is not None:
        instance_type = request.instance_type
    elif fitting_in_profile:
        instance_type = fitting_in_profile[0]
    else:
        fitting = mode.sizes_that_fit(model, nodes, region)
        instance_type = fitting[0].name if fitting else profile.instance_types[0]
    vm_size = _check_instance_type(mode, model, instance_type, nodes, region, problems, keys)
    if vm_size is None:
        return None
    if request.instance_type is None and instance_type != profile.instance_types[0]:
        notices.append(_size_change_notice(mode, model, profile, request.model_size, instance_type, nodes, region,
                                           keys))
    if config.capacity_type == "spot" and prices.price_of(prices.spot_sku(instance_type), region) is None:
        # Azure Karpenter offers spot only for a size with a Spot price meter (Azure/karpenter-provider-azure@v1.12.0:
        # pkg/providers/instancetype/instancetypes.go, pkg/providers/pricing/pricing.go): without one, a pinned spot
        # Workspace never gets a node.
        notices.append(
            f"{PROJECT}:capacityType spot: the price table has no spot price for {instance_type} in {region}. Azure "
            f"Karpenter buys spot only for sizes that have a Spot price meter; refresh the table with ./scripts/prices "
            f"--region {region}, and if it still has none, choose another {keys.full('instanceType')} or on-demand. "
            f"Estimated at the on-demand price meanwhile."
        )
    candidates = (
        (instance_type,) if request.instance_type is not None
        else tuple(fitting_in_profile) if instance_type in fitting_in_profile
        else (instance_type, *fitting_in_profile)
    )
    workspace_name = request.workspace_name or workspace_name_for(model)
    if request.max_replicas > 1 and len(workspace_name) > MAX_REPLICATED_NAME:
        # A copy's StatefulSet is named <workspace>-<5 random> and labels its pods controller-revision-hash
        # <statefulset>-<10-character hash>; a label value has at most 63 characters.
        shorter = workspace_name[:MAX_REPLICATED_NAME].rstrip("-")
        if keys.entry is None:
            problems.append(
                f"{keys.full('workspaceName')} '{workspace_name}' is too long for copies of the model "
                f"({len(workspace_name)} characters; at most {MAX_REPLICATED_NAME}): "
                f"`{keys.set_command('workspaceName', shorter)}`"
            )
        else:
            problems.append(
                f"{keys.entry_key}: the name '{workspace_name}' is too long for copies of the model "
                f"({len(workspace_name)} characters; at most {MAX_REPLICATED_NAME}): name the entry '{shorter}'"
            )
        return None
    return ServedModel(
        workspace_name=workspace_name, model=model, model_size=request.model_size, profile=profile,
        is_preset=is_preset, instance_type=instance_type, vm_size=vm_size,
        instance_type_explicit=request.instance_type is not None, candidate_instance_types=candidates,
        requested_nodes=request.node_count, min_replicas=request.min_replicas, max_replicas=request.max_replicas,
        keys=keys,
    )


# An AIGatewayRoute holds at most 15 rules, one per model here (envoyproxy/ai-gateway@v1.1.0:api/v1beta1/
# ai_gateway_route.go, MaxItems, one HTTPRoute rule kept for its catch-all).
MAX_PUBLIC_MODELS = 15


def _several_models_rules(config: StackConfig, served: list[ServedModel], problems: list[str]) -> None:
    """Models of one stack share a namespace and, with exposure public, one API that routes by the model's id: each
    needs a name and a model of its own, and names of Services others make in the namespace are taken."""
    if config.exposure == "public" and len(served) > MAX_PUBLIC_MODELS:
        problems.append(
            f"{PROJECT}:additionalModels has {len(served) - 1} models: with the stack's own, {len(served)}, and the "
            f"front door's route holds at most {MAX_PUBLIC_MODELS} (one rule per model): serve at most "
            f"{MAX_PUBLIC_MODELS - 1} additional models per public stack"
        )
    seen_names: dict[str, ServedModel] = {}
    seen_models: dict[str, ServedModel] = {}
    for model in served:
        if model.additional and (model.workspace_name == "demo-app"
                                 or model.workspace_name.endswith(("-headless", "-replicas"))):
            # KAITO makes a Service named like the Workspace, and <name>-headless; kaito-aks makes demo-app and,
            # for copies, <name>-replicas.
            problems.append(
                f"{model.keys.entry_key}: the name '{model.workspace_name}' is taken by a Service kaito-aks or KAITO "
                f"makes in the namespace (demo-app, <workspace>-headless, <workspace>-replicas); name the entry "
                f"otherwise, e.g. 'ws-{model.workspace_name}'"
            )
            continue
        if model.workspace_name in seen_names:
            first = seen_names[model.workspace_name]
            problems.append(
                f"{model.keys.entry_key} has the Workspace name of the stack's own model ({first.model}); both would "
                f"be one Workspace. Name the entry otherwise (e.g. '{model.workspace_name}-2'), or "
                f"`pulumi config set {PROJECT}:workspaceName <another name>`"
            )
            continue
        if model.model in seen_models:
            first = seen_models[model.model]
            where = first.keys.entry_key if first.additional else "by the stack's own model"
            problems.append(
                f"{model.keys.full('model')} '{model.model}' is served already ({where}): clients "
                f"choose a model by its id, so a second Workspace of it would never be asked by name. For more copies "
                f"of it set {first.keys.full('maxReplicas')} instead (kaitoInstall upstream), and "
                f"`pulumi config rm --path '{model.keys.entry_key}'`"
            )
            continue
        seen_names[model.workspace_name] = model
        seen_models[model.model] = model


def _weights_rules(config: StackConfig, invalid: set[str], mode: InstallMode, served: list[ServedModel],
                   problems: list[str]) -> None:
    """Weights from Blob are KAITO 0.11+'s ModelMirror and ModelStreaming, for vLLM Workspaces only (kaito-project/
    kaito@v0.12.0:pkg/workspace/inference/modelstreaming/modelstreaming.go ModelStreamingEnabled)."""
    if {"model_weights", "weights_storage_account_id"} & invalid:
        return
    key = f"{PROJECT}:"
    if config.model_weights != "blob":
        if config.weights_storage_account_id is not None:
            problems.append(
                f"{key}weightsStorageAccountId is set but {key}modelWeights is '{config.model_weights}': the account "
                f"holds mirrored weights only with `pulumi config set {key}modelWeights blob` (or `pulumi config rm "
                f"{key}weightsStorageAccountId`)"
            )
        return
    if not mode.installs_kaito:
        problems.append(
            f"{key}modelWeights 'blob' needs KAITO's ModelMirror and ModelStreaming (KAITO 0.11 and later), which "
            f"{mode.title} (KAITO {mode.kaito_version}) does not have: its models come from KAITO's image registry or "
            f"from Hugging Face, and it has no way to read weights from Blob. Use {key}kaitoInstall upstream (before "
            f"the first deploy), or `pulumi config rm {key}modelWeights`"
        )
    elif served and not any(model.is_preset for model in served):
        problems.append(
            f"{key}modelWeights 'blob' applies to GPU models, which KAITO serves with vLLM and streams; the stack "
            f"serves only {', '.join(model.model for model in served)} on the CPU (llama.cpp, weights from Hugging "
            f"Face). `pulumi config rm {key}modelWeights`, or serve a GPU model"
        )
    elif config.weights_storage_account_id is not None and config.subscription_id is not None and \
            config.weights_storage_account_id.split("/")[2].lower() != config.subscription_id.lower():
        problems.append(
            f"{key}weightsStorageAccountId is in subscription {config.weights_storage_account_id.split('/')[2]}, not "
            f"the stack's ({config.subscription_id}): the blob CSI driver and KAITO find the account by name in the "
            f"stack's subscription; use an account there"
        )


def _replica_rules(request: ModelRequest, mode: InstallMode, is_preset: bool, problems: list[str]) -> None:
    """Several copies of the model are an InferenceSet (KAITO 0.11+; kaito-project/kaito@v0.12.0:api/v1beta1/
    inferenceset_types.go), scaled by keda-kaito-scaler on vLLM's queue (kaito-project/keda-kaito-scaler@v0.6.2:
    README.md, vLLM only)."""
    if {"min_replicas", "max_replicas"} & request.invalid or (request.min_replicas, request.max_replicas) == (1, 1):
        return
    keys = request.keys
    if request.min_replicas > request.max_replicas:
        problems.append(
            f"{keys.full('minReplicas')} '{request.min_replicas}' is more than {keys.full('maxReplicas')} "
            f"'{request.max_replicas}'; `{keys.set_command('maxReplicas', str(request.min_replicas))}`"
        )
    if not mode.installs_kaito:
        problems.append(
            f"{keys.full('maxReplicas')} '{request.max_replicas}' needs KAITO's InferenceSet, which {mode.title} "
            f"(KAITO {mode.kaito_version}) does not have: use {PROJECT}:kaitoInstall upstream (before the first "
            f"deploy), or `{keys.rm_command('minReplicas')}; {keys.rm_command('maxReplicas')}`"
        )
    elif not is_preset:
        problems.append(
            f"{keys.full('maxReplicas')} '{request.max_replicas}' applies to GPU models: the scaler reads vLLM's "
            f"queue, and the CPU model runs on llama.cpp. `{keys.rm_command('maxReplicas')}` (and minReplicas)"
        )


def _spot_rules(config: StackConfig, invalid: set[str], mode: InstallMode, problems: list[str]) -> None:
    """Spot nodes only where the node provisioner can buy them: Azure Karpenter, which kaito-aks installs for
    upstream KAITO. gpu-provisioner (the add-on's, and upstream's legacy choice) creates every agent pool with the
    default regular priority: it never sets scaleSetPriority (Azure/gpu-provisioner@v0.4.3:pkg/providers/instance/
    instance.go), and KAITO 0.6.0 gives its pods no spot toleration (kaito-project/kaito@v0.6.0:pkg/workspace/
    inference/preset_inferences.go)."""
    if config.capacity_type != "spot" or {"capacity_type", "node_provisioner"} & invalid:
        return
    key = f"{PROJECT}:"
    if not mode.installs_kaito:
        problems.append(
            f"{key}capacityType 'spot' is not possible with {mode.title} (KAITO {mode.kaito_version}): its "
            f"gpu-provisioner creates regular-priority GPU pools only. Use {key}kaitoInstall upstream (KAITO 0.12 on "
            f"Azure Karpenter, which buys spot nodes; choose it before the first deploy), or stay on-demand: "
            f"`pulumi config rm {key}capacityType`"
        )
    elif config.node_provisioner != "karpenter":
        problems.append(
            f"{key}capacityType 'spot' needs {key}nodeProvisioner karpenter; '{config.node_provisioner}' creates "
            f"regular-priority GPU pools only. `pulumi config set {key}nodeProvisioner karpenter` (see "
            f"docs/UPGRADING.md) or `pulumi config rm {key}capacityType`"
        )


def _exposure_rules(config: StackConfig, invalid: set[str], problems: list[str]) -> None:
    if {"exposure", "allowed_source_ranges", "acme_email", "api_teams", "hostname"} & invalid:
        return
    key = f"{PROJECT}:"
    if config.exposure != "public":
        for field, setting_key in (("api_teams", "apiTeams"), ("hostname", "hostname")):
            if getattr(config, field):
                problems.append(
                    f"{key}{setting_key} is set but {key}exposure is private: the front door it belongs to exists "
                    f"only with `pulumi config set {key}exposure public` (or `pulumi config rm {key}{setting_key}`)"
                )
        return
    if not config.allowed_source_ranges:
        problems.append(
            f"{key}exposure is public but {key}allowedSourceRanges is empty; the front door is limited to known "
            f"networks as well as sign-in and keys: `pulumi config set --path '{key}allowedSourceRanges[0]' "
            f"203.0.113.7/32` (your address: `curl -s ifconfig.me`)"
        )
    if config.acme_email is None:
        problems.append(
            f"{key}acmeEmail is not set; with exposure public Let's Encrypt issues the front door's certificate and "
            f"writes to this address about it: `pulumi config set {key}acmeEmail platform@contoso.com`"
        )
    if config.demo_app and config.sign_in_client_id is None:
        problems.append(
            f"{key}signInClientId is not set; with exposure public the chat page signs people in with Entra ID: "
            f"create an app registration (README, Front door) and `pulumi config set {key}signInClientId <appId>`, "
            f"or `pulumi config set {key}demoApp false` to serve the API alone"
        )


def _budget_rules(config: StackConfig, invalid: set[str], problems: list[str]) -> None:
    if {"budget_monthly_usd", "budget_contact_emails"} & invalid:
        return
    if config.budget_monthly_usd and not config.budget_contact_emails:
        problems.append(
            f"{PROJECT}:budgetMonthlyUsd is {config.budget_monthly_usd} but {PROJECT}:budgetContactEmails is empty; "
            f"a budget alerts someone: `pulumi config set --path '{PROJECT}:budgetContactEmails[0]' "
            f"platform@contoso.com`"
        )


def _monitoring_rules(config: StackConfig, invalid: set[str], problems: list[str]) -> None:
    # Alerts quietly need metrics (they are on by default); a Grafana without metrics would show nothing.
    if {"metrics", "grafana"} & invalid or config.metrics or not config.grafana:
        return
    problems.append(
        f"{PROJECT}:grafana needs {PROJECT}:metrics, which is false: `pulumi config set {PROJECT}:metrics true` "
        f"(or `pulumi config set {PROJECT}:grafana false`)"
    )


def _upgrade_rules(config: StackConfig, invalid: set[str], problems: list[str]) -> None:
    """A pinned Kubernetes version must leave room for the upgrades the channel makes, or the next `pulumi up`
    would ask AKS for a downgrade, which it refuses."""
    if {"kubernetes_version", "upgrade_channel"} & invalid or config.kubernetes_version is None:
        return
    key = f"{PROJECT}:kubernetesVersion"
    channel = f"{PROJECT}:upgradeChannel"
    version = config.kubernetes_version
    minor = ".".join(version.split(".")[:2])
    if config.upgrade_channel in ("stable", "rapid"):
        problems.append(
            f"{key} '{version}' is pinned but {channel} '{config.upgrade_channel}' moves the cluster to newer minor "
            f"versions, and the next `pulumi up` would ask AKS to go back (it refuses downgrades); unset it with "
            f"`pulumi config rm {key}`, or use {channel} patch"
        )
    elif config.upgrade_channel == "patch" and version != minor:
        problems.append(
            f"{key} '{version}' pins a patch version but {channel} 'patch' installs newer patches, and the next "
            f"`pulumi up` would ask AKS to go back (it refuses downgrades); pin the minor version only: "
            f"`pulumi config set {key} {minor}`"
        )


def _unknown_model_message(mode: InstallMode, model: str, keys: ModelKeys) -> str:
    key = keys.full("model")
    other = mode_serving(model, besides=mode)
    if other is not None:
        if other.installs_kaito:
            return (
                f"{key} '{model}' is served by {other.title} (KAITO {other.kaito_version}), not by {mode.title} "
                f"(KAITO {mode.kaito_version}); set `pulumi config set {PROJECT}:kaitoInstall {other.name}`, or "
                f"pick one of {', '.join(mode.gpu_models())}"
            )
        return (
            f"{key} '{model}' is a name of {other.title} (KAITO {other.kaito_version}); {mode.title} (KAITO "
            f"{mode.kaito_version}) takes Hugging Face repo ids, e.g. {', '.join(mode.gpu_models()[:6])}"
            + closest_hint(model, mode.gpu_models())
        )
    return mode.unknown_model_message(key, model)


def _check_instance_type(
    mode: InstallMode, model: str, instance_type: str, nodes: int, region: str, problems: list[str], keys: ModelKeys
) -> VmSize | None:
    key = keys.full("instanceType")
    suggestion = fitting_sizes_hint(mode, model, nodes, region, keys)
    if instance_type in EXCLUDED_SIZES:
        problems.append(f"{key} '{instance_type}' cannot be used: {EXCLUDED_SIZES[instance_type]}; {suggestion}")
        return None
    size = VM_SIZES.get(instance_type)
    if size is None:
        problems.append(
            f"{key} '{instance_type}' is not a VM size kaito-aks knows (stacks/data/vm-sizes.csv)"
            f"{closest_hint(instance_type, list(VM_SIZES))}; {suggestion}"
        )
        return None
    shortfalls = mode.shortfalls(model, size, nodes)
    if shortfalls:
        problems.append(
            f"{key} '{instance_type}' cannot serve {model} ({'; '.join(shortfalls)}); {suggestion}"
        )
        return None
    return size


def fitting_sizes_hint(mode: InstallMode, model: str, nodes: int, region: str,
                       keys: ModelKeys = ModelKeys()) -> str:
    fitting = mode.sizes_that_fit(model, nodes, region)
    if not fitting:
        return f"no size kaito-aks knows fits {model} on {nodes} node(s); raise {keys.full('nodeCount')}"
    if mode.nodes_are_computed(model):
        return f"sizes that fit {model}, cheapest first in {region} for the nodes KAITO creates: " + ", ".join(
            f"{mode.model_nodes(model, size, nodes)} x {size.name} ({_price_text(size.name, region)})"
            for size in fitting[:6]
        )
    return f"sizes that fit {model} on {nodes} node(s), cheapest first in {region}: " + ", ".join(
        f"{size.name} ({_price_text(size.name, region)})" for size in fitting[:6]
    )


def _size_change_notice(
    mode: InstallMode, model: str, profile: Profile, model_size: str, chosen: str, nodes: int, region: str,
    keys: ModelKeys,
) -> str:
    first = profile.instance_types[0]
    why = "; ".join(mode.shortfalls(model, VM_SIZES[first], nodes))
    chosen_nodes = mode.model_nodes(model, VM_SIZES[chosen], nodes)
    before_nodes = mode.model_nodes(model, VM_SIZES[first], nodes)
    before, after = prices.usd_per_hour(first, region), prices.usd_per_hour(chosen, region)
    difference = (
        f"{'+' if after * chosen_nodes >= before * before_nodes else '-'}"
        f"${abs(after * chosen_nodes - before * before_nodes):.3f}/h for {chosen_nodes} node(s)"
        if before is not None and after is not None else "price difference unknown"
    )
    return (
        f"{keys.full('model')} '{model}' does not fit the {model_size} profile's {first} ({why}): the model runs on "
        f"{chosen} instead ({difference}). Set {keys.full('instanceType')} to choose the size yourself."
    )


def _price_text(sku: str, region: str) -> str:
    price = prices.price_of(sku, region)
    if price is None:
        return "price unknown"
    where = "" if price.region == region else f", {price.region} price"
    return f"${price.usd_per_hour:g}/h{where}"


def _placeholders(config: StackConfig) -> list[str]:
    found = []
    for entry in config.allowed_source_ranges:
        network = ipaddress.ip_network(entry)
        if any(network.version == doc.version and network.subnet_of(doc) for doc in DOCUMENTATION_NETWORKS):  # type: ignore[arg-type]
            found.append(
                f"{PROJECT}:allowedSourceRanges entry {entry} is a documentation range (RFC 5737), not a real "
                f"network: `pulumi config set --path '{PROJECT}:allowedSourceRanges[0]' \"$(curl -s ifconfig.me)/32\"`"
            )
    if config.acme_email and config.acme_email.rsplit("@", 1)[-1].lower() in EXAMPLE_DOMAINS:
        found.append(f"{PROJECT}:acmeEmail {config.acme_email} is an example address (RFC 2606) nobody reads: "
                     f"`pulumi config set {PROJECT}:acmeEmail <your team's address>`")
    if config.exposure == "public" and config.demo_app and config.sign_in_client_id is not None:
        if set(config.sign_in_client_id) <= {"0", "-"}:
            found.append(f"{PROJECT}:signInClientId is the all-zero placeholder: create the app registration (README, "
                         f"Front door) and `pulumi config set {PROJECT}:signInClientId <appId>`")
        if config.sign_in_client_secret is None:
            found.append(f"{PROJECT}:signInClientSecret is not set (a secret cannot ship in a stack file): "
                         f"`pulumi config set --secret {PROJECT}:signInClientSecret <client secret>`")
    for index, address in enumerate(config.budget_contact_emails):
        if address.rsplit("@", 1)[-1].lower() in EXAMPLE_DOMAINS:
            found.append(
                f"{PROJECT}:budgetContactEmails entry {address} is an example address (RFC 2606) nobody reads: "
                f"`pulumi config set --path '{PROJECT}:budgetContactEmails[{index}]' <your team's address>`"
            )
    return found


def _misplaced_key_problems(present_keys: Iterable[str]) -> list[str]:
    """Keys nothing reads: misspelt settings, and settings under the wrong namespace."""
    ours = project_keys()
    declared_elsewhere = {d.key: d for _, d in declarations() if d.namespace != PROJECT}
    problems = []
    for full_key in sorted(set(present_keys)):
        namespace, _, key = full_key.partition(":")
        if namespace == PROJECT:
            if key in ours:
                continue
            if key in declared_elsewhere:
                right = declared_elsewhere[key].full_key
                problems.append(
                    f"{full_key} is not read: the setting is {right}; run `pulumi config rm {full_key}` and "
                    f"`pulumi config set {right} <value>`"
                )
                continue
            problems.append(
                f"{full_key} is not a kaito-aks setting{closest_hint(key, ours)} (settings: {', '.join(ours)}); "
                f"remove it with `pulumi config rm {full_key}`"
            )
        elif namespace not in PROVIDER_NAMESPACES and _looks_like(namespace, PROJECT):
            right = f"{PROJECT}:{key}"
            problems.append(
                f"{full_key} is not read: kaito-aks settings live under '{PROJECT}:'; run `pulumi config rm "
                f"{full_key}` and `pulumi config set {right} <value>`"
            )
        elif namespace != AZURE and key in declared_elsewhere and _looks_like(namespace, AZURE):
            right = declared_elsewhere[key].full_key
            problems.append(
                f"{full_key} is not read: this program uses the azure-native provider, so the key is {right}; "
                f"run `pulumi config rm {full_key}` and `pulumi config set {right} <value>`"
            )
        elif namespace in PROVIDER_NAMESPACES and key in ours:
            problems.append(
                f"{full_key} is not read: the setting is {PROJECT}:{key}; run `pulumi config rm {full_key}` and "
                f"`pulumi config set {PROJECT}:{key} <value>`"
            )
    return problems


def _looks_like(namespace: str, wanted: str) -> bool:
    def fold(text: str) -> str:
        return re.sub(r"[^a-z0-9]", "", text.lower())

    return fold(namespace) == fold(wanted) or fold(wanted).startswith(fold(namespace)) and len(fold(namespace)) >= 4


def workspace_name_for(model: str) -> str:
    """ws-<model> as a DNS-1123 label (preset names hold dots, Hugging Face ids a slash)."""
    return ("ws-" + re.sub(r"[^a-z0-9-]", "-", model.lower()))[:MAX_WORKSPACE_NAME].rstrip("-")
