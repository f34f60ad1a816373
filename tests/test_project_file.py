"""Pulumi.yaml and the README's settings table come from the one declaration of each setting."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from scripts import generate
from stacks.config import PROJECT, declarations, default_of

ROOT = Path(__file__).resolve().parent.parent
PROJECT_FILE = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
SCHEMA = json.loads((ROOT / "tests" / "schemas" / "pulumi-project.schema.json").read_text())


def test_pulumi_yaml_matches_pulumis_own_project_schema():
    jsonschema.Draft202012Validator(SCHEMA).validate(PROJECT_FILE)


def test_the_project_schema_check_can_fail():
    broken = {**PROJECT_FILE, "config": {**PROJECT_FILE["config"], "tags": {"type": "object", "default": {}}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(SCHEMA).validate(broken)


def test_project_name_and_python_runtime():
    assert PROJECT_FILE["name"] == PROJECT
    assert PROJECT_FILE["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}}


def test_pulumi_yaml_and_the_readme_table_are_generated_from_the_declarations():
    assert generate.outdated() == [], "run ./scripts/generate"


def test_the_generation_check_notices_drift(tmp_path, monkeypatch):
    drifted = tmp_path / "Pulumi.yaml"
    drifted.write_text((ROOT / "Pulumi.yaml").read_text().replace("default: kaito", "default: models"))
    monkeypatch.setattr(generate, "PULUMI_YAML", drifted)
    assert generate.outdated() == [drifted]


def test_every_default_pulumi_hands_the_program_reads_back_as_the_declared_default():
    # Pulumi gives the program each Pulumi.yaml default as config text: strings as they are, the rest
    # as JSON. Each must parse to what the declaration says the default is ("" means unset).
    declared = PROJECT_FILE["config"]
    for name, item in declarations():
        if item.namespace != PROJECT or item.kind.schema_type is None:
            continue
        default = declared[item.key]["default"]
        text = default if isinstance(default, str) else json.dumps(default)
        expected = default_of(name)
        if text == "":
            assert expected is None, item.key
        else:
            assert item.kind.parse(text, item.full_key) == expected, item.key


def test_keys_the_schema_cannot_express_are_documented_in_pulumi_yaml():
    text = (ROOT / "Pulumi.yaml").read_text()
    hidden = [item for _, item in declarations() if item.namespace == PROJECT and item.kind.schema_type is None]
    assert {item.key for item in hidden} == {"hfToken", "tags", "signInClientSecret", "apiTeams", "additionalModels"}
    for item in hidden:
        assert f"#   {item.full_key}  " in text
        assert item.key not in PROJECT_FILE["config"]


def test_runtime_dependencies_are_pinned_to_the_required_majors():
    lines = [line for line in (ROOT / "requirements.txt").read_text().splitlines() if line and not line.startswith("#")]
    assert all("==" in line for line in lines), "every runtime dependency is pinned"
    pins = dict(line.split("==") for line in lines)
    majors = {name: pins[name].split(".")[0] for name in ("pulumi", "pulumi-azure-native", "pulumi-kubernetes")}
    assert majors == {"pulumi": "3", "pulumi-azure-native": "3", "pulumi-kubernetes": "4"}
