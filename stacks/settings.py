"""The one place config is read. Every config error is raised here, before any resource exists.

`read_settings()` reads the stack's config through pulumi.Config; `parse_settings()` turns raw
strings into validated, typed, immutable Settings (pure, so it is testable without Pulumi). A bad
value fails with a ConfigError naming the key, the value and a valid alternative. ConfigError is a
pulumi.RunError, so the CLI prints the message alone, without a Python traceback.
"""

from __future__ import annotations

import datetime
import difflib
import ipaddress
import json
import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Optional

import pulumi

from stacks import catalog
from stacks.profiles import Profile, profiles_for

PROJECT = "kaito-aks"

# Keys read from the `kaito-aks:` namespace, with the defaults Pulumi.yaml declares (tests check
# the two agree). "" means "not set": Pulumi's project config schema needs a default for a key to
# be optional, and the profile supplies the real value.
DEFAULTS: dict[str, str] = {
    "modelSize": "cpu",
    "model": "",
    "instanceType": "",
    "nodeCount": "1",
    "namespace": "kaito",
    "workspaceName": "",
    "kubernetesVersion": "",
    "systemNodeVmSize": "Standard_D4s_v5",
    "systemNodeCount": "1",
    "demoApp": "true",
    "exposure": "private",
    "allowedSourceRanges": "[]",
    "restrictModelAccess": "true",
    "preflight": "true",
    "preflightRegions": "[]",
    "paused": "false",
    "environment": "",
    "owner": "",
    "expiresOn": "",
    "autoTeardown": "none",
    "budgetMonthlyUsd": "0",
    "budgetContactEmails": "[]",
    "budgetStartDate": "",
    "kaitoInstall": "addon",
}
AUTO_TEARDOWN = ("none", "pause", "destroy")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
EXPOSURES = ("private", "public")
OPEN_TO_EVERYONE = {"0.0.0.0/0", "::/0"}
# Keys Pulumi.yaml cannot declare with a type: `tags` is a map (the schema has no object type) and
# `hfToken` is an optional secret (a typed key without a default is required, and a secret's
# default would sit in plain text in Pulumi.yaml).
UNTYPED_KEYS = ("hfToken", "tags")
LOCATION_KEY = "azure-native:location"
SUBSCRIPTION_KEY = "azure-native:subscriptionId"

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
KUBERNETES_VERSION = re.compile(r"^\d+\.\d+(\.\d+)?$")
AZURE_VM_SIZE = re.compile(r"^Standard_[A-Za-z0-9_]+$")
# Azure tag names may not contain these characters; names are at most 512, values 256 characters.
TAG_NAME_FORBIDDEN = set('<>%&\\?/')
RESERVED_NAMESPACES = {"default", "kube-system", "kube-public", "kube-node-lease"}


class ConfigError(pulumi.RunError):
    """A stack config value is wrong; the message says which key, what value and what would work."""


class SecretStr:
    """A secret config value that never shows itself in a repr, a log line or an exception."""

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "SecretStr('[secret]')"


@dataclass(frozen=True)
class Settings:
    """Everything one stack needs, validated. Built only by parse_settings()."""

    project: str
    stack: str
    location: str
    model_size: str
    profile: Profile
    model: str
    is_preset: bool
    """True for a GPU model KAITO serves from its presets (a Hugging Face id, upstream)."""
    instance_type: str
    vm_size: catalog.VmSize
    instance_type_explicit: bool
    """True when kaito-aks:instanceType is set: preflight then checks only that size."""
    candidate_instance_types: tuple[str, ...]
    """Sizes preflight may choose from, in order of preference (all fit the model)."""
    node_count: int
    namespace: str
    workspace_name: str
    kubernetes_version: Optional[str]
    system_node_vm_size: str
    system_node_count: int
    hf_token: Optional[SecretStr]
    demo_app: bool
    public: bool
    allowed_source_ranges: tuple[str, ...]
    restrict_model_access: bool
    preflight: bool
    preflight_regions: tuple[str, ...]
    paused: bool = False
    """True parks the stack: no Workspace (its GPU pool is deleted), the cluster stays."""
    environment: str = ""
    owner: Optional[str] = None
    expires_on: Optional[str] = None
    auto_teardown: str = "none"
    budget_monthly_usd: int = 0
    """0: no budget."""
    budget_contact_emails: tuple[str, ...] = ()
    budget_start_date: Optional[str] = None
    """First day of a month (YYYY-MM-01); None: the current month when the budget is created."""
    subscription_id: Optional[str] = None
    """azure-native:subscriptionId when set; otherwise the Azure CLI's current subscription."""
    tags: Mapping[str, str] = field(default_factory=dict)

    kaito_install: str = catalog.ADDON
    """addon: the AKS AI toolchain operator (KAITO 0.6.0); upstream: KAITO 0.12 from Helm."""

    @property
    def needs_model_access_secret(self) -> bool:
        return self.is_preset and catalog.needs_model_access_secret(
            self.model, self.kaito_install, token_set=self.hf_token is not None
        )

    @property
    def resource_group_name(self) -> str:
        return f"rg-{self.project}-{_azure_safe(self.stack)}"

    @property
    def cluster_name(self) -> str:
        return f"aks-{self.project}-{_azure_safe(self.stack)}"


def read_settings() -> Settings:
    """Read this stack's config (the only place config is read) and validate it."""
    config = pulumi.Config(PROJECT)
    raw: dict[str, Optional[str]] = {key: config.get(key) for key in (*DEFAULTS, *UNTYPED_KEYS)}
    azure = pulumi.Config("azure-native")
    raw[LOCATION_KEY] = azure.get("location")
    raw[SUBSCRIPTION_KEY] = azure.get("subscriptionId")
    return parse_settings(raw, project=PROJECT, stack=pulumi.get_stack(), present_keys=_present_config_keys())


def settings_from_stack_config(config: Mapping[str, str], stack: str) -> Settings:
    """Settings from a config map read off the stack files (commands that run without Pulumi)."""
    raw: dict[str, Optional[str]] = {key: config.get(f"{PROJECT}:{key}") for key in (*DEFAULTS, *UNTYPED_KEYS)}
    raw[LOCATION_KEY] = config.get(LOCATION_KEY)
    raw[SUBSCRIPTION_KEY] = config.get(SUBSCRIPTION_KEY)
    return parse_settings(raw, project=PROJECT, stack=stack, present_keys=config.keys())


def _present_config_keys() -> set[str]:
    # Every key the stack sets, so a misspelt one (kaito-aks:modelsize) is caught instead of
    # silently ignored. Pulumi hands config to the program either way below.
    from pulumi.runtime import config as runtime_config

    return {*runtime_config.get_config_env(), *runtime_config.CONFIG.get()}


def parse_settings(
    raw: Mapping[str, Optional[str]], project: str, stack: str, present_keys: Iterable[str] = ()
) -> Settings:
    """Validate raw config strings; raise one ConfigError listing every problem found."""
    problems: list[str] = []
    known = [*DEFAULTS, *UNTYPED_KEYS]
    for full_key in sorted(present_keys):
        namespace, _, key = full_key.partition(":")
        if namespace == project and key not in known:
            problems.append(
                f"{full_key} is not a kaito-aks setting{_closest_hint(key, known)} "
                f"(settings: {', '.join(known)}); remove it with `pulumi config rm {full_key}`"
            )

    def value(key: str) -> str:
        found = raw.get(key)
        return DEFAULTS.get(key, "") if found is None else found.strip()

    location = (raw.get(LOCATION_KEY) or "").strip()
    if not location:
        problems.append(
            f"{LOCATION_KEY} is not set; set the Azure region, e.g. "
            f"`pulumi config set {LOCATION_KEY} eastus`"
        )

    install = value("kaitoInstall")
    if install not in catalog.INSTALL_MODES:
        raise ConfigError(
            f"{project}:kaitoInstall '{install}' is not an install mode; use addon (the AKS AI toolchain "
            f"operator add-on, KAITO {catalog.KAITO_VERSION['addon']}) or upstream (KAITO "
            f"{catalog.KAITO_VERSION['upstream']} from its Helm charts)"
        )
    version = catalog.KAITO_VERSION[install]
    profiles = profiles_for(install)
    model_size = value("modelSize")
    profile = profiles.get(model_size)
    if profile is None:
        raise ConfigError(
            f"{project}:modelSize '{model_size}' is not a model size; use one of {', '.join(profiles)} "
            f"(e.g. `pulumi config set {project}:modelSize small`)" + _closest_hint(model_size, list(profiles))
        )

    node_count = _parse_int(f"{project}:nodeCount", value("nodeCount"), minimum=1, problems=problems)
    system_node_count = _parse_int(
        f"{project}:systemNodeCount", value("systemNodeCount"), minimum=1, problems=problems, maximum=100
    )

    model = value("model") or profile.model
    is_preset = catalog.is_gpu_model(model, install)
    if not is_preset and model not in catalog.TEMPLATE_MODELS:
        raise ConfigError(_unknown_model_message(project, model, install))
    if is_preset and model_size == "cpu":
        problems.append(
            f"{project}:model '{model}' is a GPU preset but {project}:modelSize is 'cpu'; "
            f"set {project}:modelSize to small, medium or large, or use a CPU model: "
            f"{', '.join(sorted(catalog.TEMPLATE_MODELS))}"
        )
    if not is_preset and model_size != "cpu":
        problems.append(
            f"{project}:model '{model}' runs on CPU but {project}:modelSize is '{model_size}'; "
            f"set {project}:modelSize to cpu, or pick a GPU preset such as {profiles[model_size].model}"
        )

    explicit_instance_type = value("instanceType")
    upstream = catalog.upstream_model(model) if install == catalog.UPSTREAM and is_preset else None
    if upstream is not None and upstream.weights_gib is None and not explicit_instance_type:
        problems.append(
            f"{project}:model '{model}' is not in kaito-aks's list of KAITO {version} models, so its size is "
            f"unknown here; KAITO serves it best-effort. Set {project}:instanceType to a GPU size with room "
            f"for its weights (e.g. Standard_NC24ads_A100_v4), or use a listed model: "
            f"{', '.join(sorted(catalog.UPSTREAM_MODELS))}"
        )
    instance_type = explicit_instance_type or _default_instance_type(profile, model, node_count or 1, install)
    vm_size = _check_instance_type(project, model, instance_type, node_count or 1, install, problems)

    hf_token_value = raw.get("hfToken") or ""
    hf_token = SecretStr(hf_token_value.strip()) if hf_token_value.strip() else None
    if is_preset and hf_token is None and catalog.needs_model_access_secret(model, install, token_set=False):
        reason = "downloads its weights from Hugging Face at run time" if install == catalog.ADDON else (
            "is gated on Hugging Face")
        problems.append(
            f"{project}:hfToken is not set, and {model} {reason}; accept the model's licence on "
            f"huggingface.co, create a read token and run "
            f"`pulumi config set --secret {project}:hfToken <token>` (or choose a model that needs none, "
            f"e.g. {'phi-4' if install == catalog.ADDON else 'openai/gpt-oss-20b'})"
        )

    namespace = value("namespace")
    _check_dns_label(f"{project}:namespace", namespace, "kaito", problems)
    if namespace in RESERVED_NAMESPACES or namespace.startswith("kube-"):
        problems.append(
            f"{project}:namespace '{namespace}' belongs to the cluster itself and the stack creates (and "
            f"on destroy deletes) its namespace; use a namespace of its own, e.g. 'kaito'"
        )
    workspace_name = value("workspaceName") or _workspace_name_for(model)
    _check_dns_label(f"{project}:workspaceName", workspace_name, _workspace_name_for(model), problems)

    kubernetes_version = value("kubernetesVersion") or None
    if kubernetes_version and not KUBERNETES_VERSION.match(kubernetes_version):
        problems.append(
            f"{project}:kubernetesVersion '{kubernetes_version}' is not a version AKS accepts; use "
            f"<major>.<minor> or <major>.<minor>.<patch> (e.g. 1.33), or leave it unset for the AKS default "
            f"(`az aks get-versions -l <region>` lists them)"
        )

    system_node_vm_size = value("systemNodeVmSize")
    if not AZURE_VM_SIZE.match(system_node_vm_size):
        problems.append(
            f"{project}:systemNodeVmSize '{system_node_vm_size}' is not an Azure VM size name; "
            f"use e.g. Standard_D4s_v5"
        )
    elif system_node_vm_size in catalog.VM_SIZES and catalog.VM_SIZES[system_node_vm_size].has_gpu:
        problems.append(
            f"{project}:systemNodeVmSize '{system_node_vm_size}' is a GPU size; the system pool only runs "
            f"cluster services and the demo app — use e.g. Standard_D4s_v5 (KAITO adds GPU nodes itself)"
        )

    tags = _parse_tags(project, raw.get("tags"), problems)

    demo_app = _parse_bool(f"{project}:demoApp", value("demoApp"), problems)
    restrict_model_access = _parse_bool(f"{project}:restrictModelAccess", value("restrictModelAccess"), problems)
    exposure = value("exposure")
    if exposure not in EXPOSURES:
        problems.append(
            f"{project}:exposure '{exposure}' is not an exposure; use private (reach the app with kubectl "
            f"port-forward) or public (a load balancer limited to {project}:allowedSourceRanges)"
        )
    allowed_source_ranges = _parse_source_ranges(project, value("allowedSourceRanges"), exposure == "public", problems)
    preflight = _parse_bool(f"{project}:preflight", value("preflight"), problems)
    paused = _parse_bool(f"{project}:paused", value("paused"), problems)
    environment = value("environment") or stack
    owner = value("owner") or None
    expires_on = _parse_date(f"{project}:expiresOn", value("expiresOn"), problems)
    auto_teardown = value("autoTeardown")
    if auto_teardown not in AUTO_TEARDOWN:
        problems.append(
            f"{project}:autoTeardown '{auto_teardown}' is not a teardown policy; use none, pause (the nightly "
            f"workflow parks the stack: no GPU) or destroy (it deletes the stack's resources)"
        )
    budget = _parse_int(f"{project}:budgetMonthlyUsd", value("budgetMonthlyUsd"), minimum=0, problems=problems)
    budget_emails = _parse_emails(f"{project}:budgetContactEmails", value("budgetContactEmails"), problems)
    if budget and not budget_emails:
        problems.append(
            f"{project}:budgetMonthlyUsd is {budget} but {project}:budgetContactEmails is empty; a budget alerts "
            f"someone: `pulumi config set --path '{project}:budgetContactEmails[0]' platform@example.com`"
        )
    budget_start = _parse_date(f"{project}:budgetStartDate", value("budgetStartDate"), problems)
    if budget_start and not budget_start.endswith("-01"):
        problems.append(
            f"{project}:budgetStartDate '{budget_start}' must be the first day of a month (Azure budgets start "
            f"on one), e.g. {budget_start[:8]}01"
        )
    preflight_regions = _parse_regions(f"{project}:preflightRegions", value("preflightRegions"), problems)

    if problems:
        raise ConfigError("invalid stack configuration:\n  - " + "\n  - ".join(problems))

    assert vm_size is not None and node_count is not None and system_node_count is not None
    standard_tags = {
        "project": project,
        "stack": stack,
        "modelSize": model_size,
        "managed-by": "pulumi",
    }
    standard_tags["environment"] = environment
    if owner:
        standard_tags["owner"] = owner
    if expires_on:
        standard_tags["expiry"] = expires_on
    merged_tags = dict(sorted({**tags, **standard_tags}.items()))
    return Settings(
        project=project,
        stack=stack,
        location=location,
        model_size=model_size,
        profile=profile,
        model=model,
        is_preset=is_preset,
        instance_type=instance_type,
        vm_size=vm_size,
        instance_type_explicit=bool(explicit_instance_type),
        candidate_instance_types=(
            (instance_type,) if explicit_instance_type
            else _candidates(profile, model, node_count, instance_type, install)
        ),
        node_count=node_count,
        namespace=namespace,
        workspace_name=workspace_name,
        kubernetes_version=kubernetes_version,
        system_node_vm_size=system_node_vm_size,
        system_node_count=system_node_count,
        hf_token=hf_token,
        demo_app=bool(demo_app),
        public=exposure == "public",
        allowed_source_ranges=allowed_source_ranges,
        restrict_model_access=bool(restrict_model_access),
        preflight=bool(preflight),
        preflight_regions=preflight_regions,
        paused=bool(paused),
        environment=environment,
        owner=owner,
        expires_on=expires_on,
        auto_teardown=auto_teardown,
        budget_monthly_usd=budget or 0,
        budget_contact_emails=budget_emails,
        budget_start_date=budget_start,
        subscription_id=(raw.get(SUBSCRIPTION_KEY) or "").strip() or None,
        kaito_install=install,
        tags=merged_tags,
    )


def _parse_int(
    key: str, text: str, minimum: int, problems: list[str], maximum: Optional[int] = None
) -> Optional[int]:
    try:
        number = int(text)
    except ValueError:
        problems.append(f"{key} '{text}' is not a whole number; use e.g. {minimum}")
        return None
    if number < minimum or (maximum is not None and number > maximum):
        upper = f" and at most {maximum}" if maximum is not None else ""
        problems.append(f"{key} '{number}' must be at least {minimum}{upper}; use e.g. {minimum}")
        return None
    return number


def _parse_bool(key: str, text: str, problems: list[str]) -> Optional[bool]:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    problems.append(f"{key} '{text}' is not true or false; use e.g. `pulumi config set {key} false`")
    return None


def _parse_source_ranges(project: str, text: str, public: bool, problems: list[str]) -> tuple[str, ...]:
    key = f"{project}:allowedSourceRanges"
    example = f"`pulumi config set --path '{key}[0]' 203.0.113.7/32` (your address: `curl -s ifconfig.me`)"
    try:
        ranges = json.loads(text) if text else []
    except json.JSONDecodeError:
        ranges = None
    if not isinstance(ranges, list) or not all(isinstance(item, str) for item in ranges):
        problems.append(f"{key} '{text}' is not a list of CIDRs; set it with {example}")
        return ()
    clean = []
    for item in ranges:
        try:
            clean.append(str(ipaddress.ip_network(item.strip(), strict=True)))
        except ValueError as error:
            problems.append(f"{key} entry '{item}' is not a CIDR ({error}); use e.g. 203.0.113.0/24 or 203.0.113.7/32")
            continue
        if clean[-1] in OPEN_TO_EVERYONE:
            problems.append(
                f"{key} entry '{item}' opens the demo app to the whole internet; list the networks that "
                f"need it, e.g. 203.0.113.0/24"
            )
    if public and not ranges:
        problems.append(
            f"{project}:exposure is public but {key} is empty; a public demo app must be limited to known "
            f"networks: {example}"
        )
    return tuple(clean)


def _parse_date(key: str, text: str, problems: list[str]) -> Optional[str]:
    if not text:
        return None
    try:
        return datetime.date.fromisoformat(text).isoformat()
    except ValueError:
        problems.append(f"{key} '{text}' is not a date; use YYYY-MM-DD, e.g. 2027-01-31")
        return None


def _parse_emails(key: str, text: str, problems: list[str]) -> tuple[str, ...]:
    try:
        emails = json.loads(text) if text else []
    except json.JSONDecodeError:
        emails = None
    if not isinstance(emails, list) or not all(isinstance(e, str) and EMAIL.match(e) for e in emails):
        problems.append(
            f"{key} '{text}' is not a list of e-mail addresses; set it with "
            f"`pulumi config set --path '{key}[0]' platform@example.com`"
        )
        return ()
    return tuple(emails)


def _parse_regions(key: str, text: str, problems: list[str]) -> tuple[str, ...]:
    try:
        regions = json.loads(text) if text else []
    except json.JSONDecodeError:
        regions = None
    if not isinstance(regions, list) or not all(isinstance(r, str) and re.fullmatch(r"[a-z0-9]+", r) for r in regions):
        problems.append(
            f"{key} '{text}' is not a list of Azure region names; set it with "
            f"`pulumi config set --path '{key}[0]' westeurope` (names as `az account list-locations -o table` shows)"
        )
        return ()
    return tuple(regions)


def _unknown_model_message(project: str, model: str, install: str) -> str:
    key = f"{project}:model"
    if install == catalog.ADDON and catalog.is_gpu_model(model, catalog.UPSTREAM):
        return (
            f"{key} '{model}' is served by upstream KAITO {catalog.KAITO_VERSION['upstream']}, not by the AKS "
            f"add-on's KAITO {catalog.KAITO_VERSION['addon']}; set `pulumi config set {project}:kaitoInstall "
            f"upstream`, or pick a {catalog.KAITO_VERSION['addon']} preset: {', '.join(sorted(catalog.PRESETS))}"
        )
    if install == catalog.UPSTREAM and model in catalog.PRESETS:
        return (
            f"{key} '{model}' is an add-on preset name; upstream KAITO {catalog.KAITO_VERSION['upstream']} takes "
            f"Hugging Face repo ids, e.g. {', '.join(sorted(catalog.UPSTREAM_MODELS)[:6])}"
            + _closest_hint(model, list(catalog.UPSTREAM_MODELS))
        )
    known = sorted(catalog.PRESETS) if install == catalog.ADDON else sorted(catalog.UPSTREAM_MODELS)
    what = f"a KAITO {catalog.KAITO_VERSION[install]} preset" if install == catalog.ADDON else "a Hugging Face repo id"
    return (
        f"{key} '{model}' is not {what} nor a CPU model kaito-aks serves; use one of {', '.join(known)} (GPU) "
        f"or {', '.join(sorted(catalog.TEMPLATE_MODELS))} (CPU)"
        + _closest_hint(model, [*known, *catalog.TEMPLATE_MODELS])
    )


def _profile_sizes_that_fit(profile: Profile, model: str, node_count: int, install: str) -> tuple[str, ...]:
    return tuple(
        name for name in profile.instance_types
        if name in catalog.VM_SIZES and not catalog.model_shortfalls(model, catalog.VM_SIZES[name], node_count, install)
    )


def _candidates(profile: Profile, model: str, node_count: int, default: str, install: str) -> tuple[str, ...]:
    """The profile's sizes that fit the model, in its order; the default leads when none of them fit."""
    fitting = _profile_sizes_that_fit(profile, model, node_count, install)
    return fitting if default in fitting else (default, *fitting)


def _default_instance_type(profile: Profile, model: str, node_count: int, install: str) -> str:
    """The profile's first size that fits the model; else the cheapest catalog size that does."""
    fitting_profile = _profile_sizes_that_fit(profile, model, node_count, install)
    if fitting_profile:
        return fitting_profile[0]
    fitting = catalog.sizes_that_fit(model, node_count, install)
    return fitting[0].name if fitting else profile.instance_types[0]


def _check_instance_type(
    project: str, model: str, instance_type: str, node_count: int, install: str, problems: list[str]
) -> Optional[catalog.VmSize]:
    key = f"{project}:instanceType"
    fitting = catalog.sizes_that_fit(model, node_count, install)
    suggestion = (
        f"sizes that fit {model} on {node_count} node(s), cheapest first: "
        + ", ".join(f"{s.name} ({_price(s)})" for s in fitting[:6])
        if fitting
        else f"no catalog size fits {model} on {node_count} node(s); raise {project}:nodeCount"
    )
    if instance_type in catalog.EXCLUDED_SIZES:
        problems.append(
            f"{key} '{instance_type}' cannot be used: {catalog.EXCLUDED_SIZES[instance_type]}; {suggestion}"
        )
        return None
    size = catalog.VM_SIZES.get(instance_type)
    if size is None:
        problems.append(f"{key} '{instance_type}' is not a VM size kaito-aks knows; {suggestion}")
        return None
    shortfalls = catalog.model_shortfalls(model, size, node_count, install)
    if shortfalls:
        problems.append(
            f"{key} '{instance_type}' cannot serve {model} (KAITO would reject it: "
            f"{'; '.join(shortfalls)}); {suggestion}"
        )
        return None
    return size


def _price(size: catalog.VmSize) -> str:
    if size.price_usd_per_hour is None:
        return "price unknown"
    return f"${size.price_usd_per_hour:g}/h"


def _workspace_name_for(model: str) -> str:
    # Preset names may hold dots (phi-3.5-mini-instruct); a Workspace name must be a DNS-1123 label.
    return ("ws-" + re.sub(r"[^a-z0-9-]", "-", model.lower()))[:63].rstrip("-")


def _check_dns_label(key: str, text: str, alternative: str, problems: list[str]) -> None:
    if len(text) > 63 or not DNS1123_LABEL.match(text):
        problems.append(
            f"{key} '{text}' is not a DNS-1123 label (lower-case letters, digits and '-', starting and "
            f"ending with a letter or digit, at most 63 characters); use e.g. '{alternative}'"
        )


def _parse_tags(project: str, text: Optional[str], problems: list[str]) -> dict[str, str]:
    key = f"{project}:tags"
    example = f"`pulumi config set --path '{project}:tags.owner' platform-team`"
    if not text:
        return {}
    try:
        tags = json.loads(text)
    except json.JSONDecodeError:
        problems.append(f"{key} '{text}' is not a map of names to values; set tags with {example}")
        return {}
    if not isinstance(tags, dict):
        problems.append(f"{key} {json.dumps(tags)} is not a map of names to values; set tags with {example}")
        return {}
    clean: dict[str, str] = {}
    for name, tag_value in tags.items():
        if isinstance(tag_value, (dict, list)) or tag_value is None:
            problems.append(
                f"{key}.{name} {json.dumps(tag_value)} is not a plain value; Azure tags are strings, e.g. {example}"
            )
            continue
        if not name or len(name) > 512 or TAG_NAME_FORBIDDEN & set(name):
            problems.append(
                f"{key} name '{name}' is not a valid Azure tag name (1-512 characters, none of < > % & \\ ? /); "
                f"use e.g. 'cost-center'"
            )
            continue
        text_value = str(tag_value).lower() if isinstance(tag_value, bool) else str(tag_value)
        if len(text_value) > 256:
            problems.append(f"{key}.{name} is {len(text_value)} characters; Azure allows at most 256")
            continue
        clean[name] = text_value
    return clean


def _closest_hint(text: str, names: list[str]) -> str:
    close = difflib.get_close_matches(text, names, n=1)
    return f" — did you mean '{close[0]}'?" if close else ""


def _azure_safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", text).strip("-").lower()
