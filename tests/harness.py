"""The tests drive the program through the same offline runner the plan command uses, and build
stack configs the way a user would write them."""

from __future__ import annotations

import functools
import json
from typing import Any

from scripts.offline import (  # noqa: F401 - re-exported for the tests
    PUBLIC_IP,
    ProgramRun,
    Registered,
    run_failing_program,
    run_program,
    run_program_afresh,
)
from scripts.offline import stack_config as _stack_file_config
from scripts.stack_files import stack_names  # noqa: F401 - re-exported for the tests
from stacks.install_modes import INSTALL_MODES
from stacks.settings import Settings, parse_settings

HF_TOKEN = "hf_test_token_do_not_leak_0123456789"
MODEL_SIZES = ("cpu", "small", "medium", "large")
WORKSPACE = "kubernetes:kaito.sh/v1beta1:Workspace"
CLUSTER = "azure-native:containerservice:ManagedCluster"


def size_config(model_size: str, kaito_install: str = "addon", **overrides: Any) -> dict[str, Any]:
    """Minimal config for a stack of `model_size`, plus a token where the profile's model needs one."""
    config: dict[str, Any] = {"azure-native:location": "eastus", "kaito-aks:modelSize": model_size}
    if kaito_install != "addon":
        config["kaito-aks:kaitoInstall"] = kaito_install
    mode = INSTALL_MODES[kaito_install]
    profile = mode.profiles.get(model_size)
    gpu_model = profile is not None and mode.is_gpu_model(profile.model)
    if gpu_model and mode.needs_model_access_secret(profile.model, False):
        config["kaito-aks:hfToken"] = HF_TOKEN
    config.update({f"kaito-aks:{key}": value for key, value in overrides.items()})
    return config


# What a public stack needs besides exposure public: networks, the ACME address and the sign-in app registration.
PUBLIC = {
    "exposure": "public", "allowedSourceRanges": ["20.30.40.0/24"], "acmeEmail": "ml-platform@contoso.com",
    "signInClientId": "5b1c7e4a-2f3d-4c8b-9a6e-1d0f2e3c4b5a", "signInClientSecret": "sign-in-secret-do-not-leak",
}


# A stack with Grafana, cluster groups and non-default log settings (shared by the monitoring, cost and CI identity
# tests, so it runs once).
MONITORED = {
    "clusterAdminGroups": ["11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"],
    "clusterReaderGroups": ["33333333-3333-3333-3333-333333333333"],
    "grafana": True, "logRetentionDays": 90, "logDailyCapGb": 5,
}


# Serving at scale (upstream): weights mirrored to Blob, a second GPU model and a CPU model (tests/test_weights.py).
BLOB = {"modelWeights": "blob", "hfToken": HF_TOKEN, "additionalModels": {
    "ws-phi": {"model": "microsoft/Phi-4-mini-instruct"},
    "ws-cpu": {"model": "qwen2.5-0.5b-instruct", "modelSize": "cpu"}}}
# Configurations no stack file has, scanned with checkov beside the stack files (tests/test_scanners.py), so that
# what they add is scanned too and a finding accepted for their settings is seen to occur.
SCAN_EXAMPLES = {
    "example-blob-weights": size_config("small", "upstream", **BLOB),
    "example-blob-on-gpu-provisioner": size_config("small", "upstream", modelWeights="blob",
                                                   nodeProvisioner="gpu-provisioner"),
}


# A budget as a team sets it: a monthly amount and who is told.
TEAM_BUDGET = {"budgetMonthlyUsd": 3000, "budgetContactEmails": ["platform@contoso.com", "fin@contoso.com"]}


# A public stack with two GPU nodes, two system nodes and a budget (shared by the cost and settings tests, so it runs
# once).
PUBLIC_AT_SCALE = {**PUBLIC, "nodeCount": 2, "systemNodeCount": 2, **TEAM_BUDGET}


# A CPU stack with what a platform team sets around its model: the API server's ranges, the Standard tier, upgrade
# channels, access groups, bookkeeping tags, a budget from a given month and no demo app (shared by the cluster
# security, cost control and demo app tests, each looking at its own part, so it runs once).
OPERATED = {
    "apiServerAuthorizedIpRanges": ["20.30.40.0/24", "52.160.0.7/32"], "skuTier": "Standard", "upgradeChannel": "none",
    "nodeOsUpgradeChannel": "SecurityPatch",
    "clusterAdminGroups": ["11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"],
    "clusterReaderGroups": ["33333333-3333-3333-3333-333333333333"],
    "environment": "dev", "owner": "ml-platform", "expiresOn": "2027-01-31",
    **TEAM_BUDGET, "budgetStartDate": "2026-11-01",
    "demoApp": False,
}


# A small stack with settings that leave the model's Workspace as it is: a bigger system pool, a budget without a
# start date, a tighter latency alert and no throughput measurement (shared by the change, cost control and
# monitoring tests, each looking at its own part, so it runs once).
AROUND_THE_MODEL = {
    "systemNodeCount": 2, **TEAM_BUDGET, "alertTtftP95Seconds": 4, "measureStreams": 0,
}


# A CPU stack left to itself: no container logs, metrics or alerts, and no automatic upgrades of its pinned Kubernetes
# version (shared by the monitoring, cost and cluster security tests, each looking at its own part, so it runs once).
UNATTENDED = {
    "containerLogs": False, "metrics": False, "alerts": False,
    "upgradeChannel": "none", "nodeOsUpgradeChannel": "Unmanaged", "kubernetesVersion": "1.33.2",
}


@functools.lru_cache
def _stack_file(stack: str) -> dict[str, str]:
    return _stack_file_config(stack)


def stack_config(stack: str) -> dict[str, str]:
    """The config of Pulumi.<stack>.yaml as Pulumi hands it to the program (scripts/offline.py stack_config), read
    once per session: a fresh copy each call, so a test may change its own."""
    return dict(_stack_file(stack))


def secret_keys_of(config: dict[str, Any]) -> tuple[str, ...]:
    """The keys of `config` that hold secrets (set with `pulumi config set --secret`)."""
    from stacks.config import declarations

    secret = {item.full_key for _, item in declarations() if item.kind.secret}
    return tuple(key for key in config if key in secret)


def program(config: dict[str, Any], **options: Any) -> ProgramRun:
    """The program run for a config (cached: each config is evaluated once per test session)."""
    return run_program(config, secret_keys=secret_keys_of(config), **options)


def size_program(model_size: str, kaito_install: str = "addon", **overrides: Any) -> ProgramRun:
    return program(size_config(model_size, kaito_install, **overrides))


def settings_of(config: dict[str, Any], stack: str = "test") -> Settings:
    """The program's settings for a config, through the same parser a program run uses."""
    texts = {key: value if isinstance(value, str) else json.dumps(value) for key, value in config.items()}
    return parse_settings(texts, stack, present_keys=texts)


def workspace_object(run: ProgramRun) -> dict:
    return {key: value for key, value in run.one(WORKSPACE).inputs.items() if key != "__defaults"}
