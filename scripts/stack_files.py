"""A stack's config read from Pulumi.yaml and Pulumi.<stack>.yaml, for the commands that run
without the Pulumi CLI (the offline plan, the standalone preflight).

It yields what `pulumi config` would hand the program: full keys (`kaito-aks:modelSize`), text
values, objects as JSON, project defaults applied. Encrypted values cannot be read here; they come
back as SECRET_PLACEHOLDER, so "is it set?" still has the right answer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SECRET_PLACEHOLDER = "[secret: encrypted in the stack file]"


class StackFileError(Exception):
    """The stack file is missing or unreadable."""


def stack_names() -> list[str]:
    return sorted(path.name.split(".")[1] for path in ROOT.glob("Pulumi.*.yaml"))


def load_stack_config(stack: str, apply_project_defaults: bool = True) -> dict[str, str]:
    path = ROOT / f"Pulumi.{stack}.yaml"
    if not path.exists():
        known = ", ".join(stack_names()) or "none"
        raise StackFileError(f"no stack file {path.name} (stack files here: {known})")
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    name = project["name"]
    config: dict[str, str] = {}
    if apply_project_defaults:
        for key, schema in (project.get("config") or {}).items():
            if isinstance(schema, dict) and "default" in schema:
                config[f"{name}:{key}"] = _as_text(schema["default"])
    stack_document = yaml.safe_load(path.read_text()) or {}
    for key, value in (stack_document.get("config") or {}).items():
        full_key = key if ":" in key else f"{name}:{key}"
        config[full_key] = SECRET_PLACEHOLDER if isinstance(value, dict) and set(value) == {"secure"} else _as_text(value)
    return config


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)
