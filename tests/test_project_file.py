"""Pulumi.yaml declares the config contract that stacks/settings reads, and the pins hold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from stacks.settings import DEFAULTS, UNTYPED_KEYS

ROOT = Path(__file__).resolve().parent.parent
PROJECT = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())


def test_pulumi_yaml_matches_pulumis_own_project_schema():
    import jsonschema

    schema = json.loads((ROOT / "tests" / "schemas" / "pulumi-project.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(PROJECT)


def test_the_project_schema_check_can_fail():
    import jsonschema

    schema = json.loads((ROOT / "tests" / "schemas" / "pulumi-project.schema.json").read_text())
    broken = {**PROJECT, "config": {**PROJECT["config"], "tags": {"type": "object", "default": {}}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(broken)


def test_project_name_and_python_runtime():
    assert PROJECT["name"] == "kaito-aks"
    assert PROJECT["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}}


def test_every_key_settings_reads_is_declared_with_type_description_and_matching_default():
    declared = PROJECT["config"]
    assert set(declared) == set(DEFAULTS)
    for key, schema in declared.items():
        assert schema["type"] in ("string", "integer", "boolean", "array"), key
        assert schema["description"].strip(), key
        # Pulumi hands the program each default as config text: strings as-is, the rest as JSON.
        default = schema["default"]
        assert (default if isinstance(default, str) else json.dumps(default)) == DEFAULTS[key], key


def test_keys_the_schema_cannot_express_are_documented_in_pulumi_yaml():
    text = (ROOT / "Pulumi.yaml").read_text()
    for key in UNTYPED_KEYS:
        assert f"kaito-aks:{key}" in text


def test_dev_stack_uses_the_cpu_profile():
    dev = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    assert dev["kaito-aks:modelSize"] == "cpu"
    assert dev["azure-native:location"]


def test_runtime_dependencies_are_pinned_to_the_required_majors():
    lines = [line for line in (ROOT / "requirements.txt").read_text().splitlines() if line and not line.startswith("#")]
    assert all("==" in line for line in lines), "every runtime dependency is pinned"
    pins = dict(line.split("==") for line in lines)
    majors = {name: pins[name].split(".")[0] for name in ("pulumi", "pulumi-azure-native", "pulumi-kubernetes", "pulumi-random")}
    assert majors == {"pulumi": "3", "pulumi-azure-native": "3", "pulumi-kubernetes": "4", "pulumi-random": "4"}
