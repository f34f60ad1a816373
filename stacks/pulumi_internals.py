"""Every use of the Pulumi SDK's private internals, in one place.

The program needs one (every config key a stack sets, to catch misspelt keys); the mocks harness
(scripts/offline.py) needs the rest (the wire format's secret marker, running a coroutine to
completion, the config and settings a program run starts from, the fields of a RegisterResource
request). tests/test_pulumi_internals.py exercises each one against the pinned SDK, so an SDK
upgrade that changes them fails there, loudly, instead of somewhere deep in a test run.
"""

from __future__ import annotations

import logging
from typing import Any

from pulumi.runtime import config as runtime_config
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.stack import wait_for_rpcs
from pulumi.runtime.sync_await import _sync_await

SIG_KEY: str = rpc._special_sig_key  # type: ignore[attr-defined]
UNKNOWN: str = rpc.UNKNOWN
"""What a mock answers for a property only a deployment knows (the engine's unknown sentinel)."""
SECRET_SIG: str = rpc._special_secret_sig  # type: ignore[attr-defined]


def present_config_keys() -> set[str]:
    """Every config key the stack sets (full keys), whether or not the program reads it.

    The engine hands config to the program as the PULUMI_CONFIG environment variable; under mocks
    it is set in the SDK's config context variable. Either way, these are all the keys."""
    return {*runtime_config.get_config_env(), *runtime_config.CONFIG.get()}


def is_secret_value(value: Any) -> bool:
    """A value as the wire format marks a secret ({sig: <secret signature>, value: ...})."""
    return isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG


def sync_await(awaitable: Any) -> Any:
    return _sync_await(awaitable)


def is_unknown(value: Any) -> bool:
    """A property a preview cannot know yet (deserialized with keep_unknowns)."""
    from pulumi.output import Unknown

    return isinstance(value, Unknown)


def deserialize(struct: Any) -> dict[str, Any]:
    """A RegisterResource request's properties, unknowns and secret markers kept."""
    return rpc.deserialize_properties(struct, keep_unknowns=True)


def start_program_run(
    config: dict[str, str], secret_keys: list[str], project: str, stack: str, preview: bool,
    monitor: pulumi_mocks.MockMonitor, logger: logging.Logger | None = None,
) -> Any:
    """Fresh config, settings and mock monitor for one program run; returns the root stack resource."""
    runtime_config.set_all_config(config, secret_keys)
    runtime_settings.reset_options(project=project, stack=stack)
    pulumi_mocks.set_mocks(monitor.mocks, project=project, stack=stack, preview=preview, monitor=monitor,
                           logger=logger)
    return runtime_settings.get_root_resource()


def finish_program_run() -> None:
    """Wait for every outstanding registration of the run."""
    _sync_await(wait_for_rpcs())


def clear_config() -> None:
    runtime_config.set_all_config({}, [])


def registration_options(request: Any) -> dict[str, Any]:
    """The options of a RegisterResource request, by the names the harness uses."""
    return {
        "type": request.type,
        "name": request.name,
        "parent": request.parent,
        "provider": request.provider,
        "ignore_changes": list(request.ignoreChanges),
        "replace_on_changes": list(request.replaceOnChanges),
        "delete_before_replace": request.deleteBeforeReplace,
        "dependencies": list(request.dependencies),
        "custom_timeouts": {
            "create": request.customTimeouts.create,
            "update": request.customTimeouts.update,
            "delete": request.customTimeouts.delete,
        },
        "after_delete_hooks": list(request.hooks.after_delete),
        "after_create_hooks": list(request.hooks.after_create),
        "aliases": [alias.urn or _alias_spec_text(alias.spec) for alias in request.aliases],
        "protect": request.protect,
    }


def _alias_spec_text(spec: Any) -> str:
    """An alias given by parts (name, type, parent) as `spec:key=value,...`, for scripts/offline.py to resolve."""
    parts = [f"{field.name}={value}" for field, value in spec.ListFields()]
    return "spec:" + ",".join(sorted(parts))


MockMonitor = pulumi_mocks.MockMonitor
