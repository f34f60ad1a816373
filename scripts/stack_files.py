"""A stack's config read from Pulumi.yaml and Pulumi.<stack>.yaml, for the commands that run without
the Pulumi CLI (the offline plan, the preflight report, the CI helpers).

It yields what `pulumi config` would hand the program: full keys (`kaito-aks:modelSize`), text
values, objects as JSON, project defaults applied. Encrypted values cannot be read here; they come
back as SECRET_PLACEHOLDER, so "is it set?" still has the right answer. A file that is not valid
YAML is reported with its name, line and column.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SECRET_PLACEHOLDER = "[secret: encrypted in the stack file]"


class StackFileError(Exception):
    """The stack file is missing, unreadable or not valid YAML."""


def stack_names(root: Path | None = None) -> list[str]:
    """The stacks that have a Pulumi.<stack>.yaml in the project folder."""
    return sorted(path.name[len("Pulumi."):-len(".yaml")] for path in (root or ROOT).glob("Pulumi.*.yaml"))


def read_yaml(path: Path) -> Any:
    """A YAML file's content; a syntax error names the file, line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise StackFileError(f"{path.name} cannot be read: {error.strerror}") from None
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        problem = error.problem or error.context or "invalid YAML"
        raise StackFileError(f"{path.name} is not valid YAML: {problem} at {where}") from None
    except yaml.YAMLError as error:
        raise StackFileError(f"{path.name} is not valid YAML: {error}") from None


def load_stack_config(stack: str, root: Path | None = None) -> dict[str, str]:
    root = root or ROOT
    path = root / f"Pulumi.{stack}.yaml"
    if not path.exists():
        known = ", ".join(stack_names(root)) or "none"
        raise StackFileError(f"no stack file {path.name} (stack files here: {known})")
    project = read_yaml(root / "Pulumi.yaml")
    name = project["name"]
    config: dict[str, str] = {}
    for key, schema in (project.get("config") or {}).items():
        if isinstance(schema, dict) and "default" in schema:
            config[f"{name}:{key}"] = _as_text(schema["default"])
    document = read_yaml(path) or {}
    if not isinstance(document, dict) or not isinstance(document.get("config") or {}, dict):
        raise StackFileError(f"{path.name} must hold a `config:` map of keys to values")
    for key, value in (document.get("config") or {}).items():
        full_key = key if ":" in key else f"{name}:{key}"
        encrypted = isinstance(value, dict) and set(value) == {"secure"}
        config[full_key] = SECRET_PLACEHOLDER if encrypted else _as_text(value)
    return config


def _as_text(value: Any) -> str:
    # Pulumi reads a stack file's scalars as text: an unquoted 2027-01-31 is the string, not a date.
    if isinstance(value, str):
        return value
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return json.dumps(value, default=lambda item: item.isoformat())
