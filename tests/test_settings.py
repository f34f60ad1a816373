"""How settings are resolved beyond single keys: placeholders, notices, stack files a user edits by hand."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from scripts import plan
from scripts.stack_files import StackFileError, load_stack_config
from stacks import prices
from stacks.settings import ConfigError
from tests.harness import (
    PUBLIC,
    PUBLIC_AT_SCALE,
    program,
    run_failing_program,
    size_config,
    size_program,
    stack_config,
    stack_names,
)

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDERS = {**{f"kaito-aks:{key}": value for key, value in PUBLIC.items()},
                "kaito-aks:allowedSourceRanges": ["203.0.113.0/24"], "kaito-aks:acmeEmail": "platform-team@example.com",
                "kaito-aks:signInClientId": "00000000-0000-0000-0000-000000000000",
                "kaito-aks:budgetMonthlyUsd": 100, "kaito-aks:budgetContactEmails": ["platform-team@example.com"]}


def test_documentation_placeholders_are_a_warning_in_a_preview():
    # The prod stack file ships the placeholders of PLACEHOLDERS: its preview (shared with other tests) has the warning.
    run = program(stack_config("prod"), stack="prod", preview=True)
    (warning,) = [w for w in run.warnings if "documentation placeholders" in w]
    assert "allowedSourceRanges entry 203.0.113.0/24 is a documentation range" in warning
    assert "pulumi config set --path 'kaito-aks:allowedSourceRanges[0]'" in warning
    assert "budgetContactEmails entry platform-team@example.com is an example address" in warning
    assert "acmeEmail platform-team@example.com is an example address" in warning
    assert "signInClientId is the all-zero placeholder" in warning
    assert "(`pulumi up` refuses them)" in warning


def test_documentation_placeholders_are_refused_by_an_update_before_any_resource():
    error, registered = run_failing_program({**size_config("cpu"), **PLACEHOLDERS})
    assert isinstance(error, ConfigError)
    assert "pulumi config set --path 'kaito-aks:budgetContactEmails[0]' <your team's address>" in str(error)
    assert registered == []


def test_real_values_are_not_placeholders():
    # Real networks, addresses and sign-in app of a public stack with a budget (tests/harness.py's, shared).
    run = size_program("small", **PUBLIC_AT_SCALE)
    assert not any("placeholder" in warning for warning in run.warnings)


@pytest.mark.parametrize("stack", stack_names())
def test_the_offline_plan_warns_about_every_placeholder_a_stack_file_ships(stack):
    document = plan.build_plan(stack)
    config = stack_config(stack)

    def documentation_value(entry: str) -> bool:
        documentation = entry.startswith(("203.0.113.", "198.51.100.", "192.0.2.")) or entry.endswith("@example.com")
        return bool(entry) and (documentation or set(entry) <= {"0", "-"})

    shipped = [entry for key in ("kaito-aks:allowedSourceRanges", "kaito-aks:budgetContactEmails")
               for entry in __import__("json").loads(config.get(key, "[]")) if documentation_value(entry)]
    shipped += [config[key] for key in ("kaito-aks:acmeEmail", "kaito-aks:signInClientId")
                if key in config and documentation_value(config[key])]
    # A secret cannot ship in a stack file: a public stack with the chat page always lacks the sign-in secret.
    missing_secret = config.get("kaito-aks:exposure") == "public" and config.get("kaito-aks:demoApp") != "false" \
        and "kaito-aks:signInClientSecret" not in config
    assert len(document["placeholders"]) == len(shipped) + missing_secret
    for entry in shipped:
        assert any(entry in placeholder or (set(entry) <= {"0", "-"} and "all-zero" in placeholder)
                   for placeholder in document["placeholders"])


def test_an_override_that_moves_the_model_to_another_size_says_what_why_and_what_it_costs():
    run = program(size_config("small", model="phi-3-medium-4k-instruct"))
    (notice,) = [w for w in run.warnings if "does not fit" in w]
    chosen = run.outputs["instanceType"]
    extra = prices.usd_per_hour(chosen, "eastus") - prices.usd_per_hour("Standard_NV36ads_A10_v5", "eastus")
    assert notice.startswith("kaito-aks:model 'phi-3-medium-4k-instruct' does not fit the small profile's "
                             "Standard_NV36ads_A10_v5 (")
    assert "28 GiB" in notice  # why: the preset's GPU memory
    assert f"runs on {chosen} instead (+${extra:.3f}/h for 1 node(s))" in notice


def test_no_notice_when_nothing_was_overridden():
    assert not any("does not fit" in warning for warning in program(size_config("small")).warnings)


def copy_project(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path)
    return tmp_path


def test_a_yaml_syntax_error_names_the_file_line_and_column(tmp_path):
    root = copy_project(tmp_path)
    (root / "Pulumi.qa.yaml").write_text("config:\n  azure-native:location: eastus\n  kaito-aks:modelSize: 'cpu\n")
    with pytest.raises(StackFileError) as caught:
        load_stack_config("qa", root)
    message = str(caught.value)
    assert message.startswith("Pulumi.qa.yaml is not valid YAML: ")
    assert "line 4, column 1" in message or "line 3, column" in message, message
    assert "Traceback" not in message


def test_a_stack_file_that_is_not_a_map_of_settings_says_so(tmp_path):
    root = copy_project(tmp_path)
    (root / "Pulumi.qa.yaml").write_text("config:\n  - azure-native:location: eastus\n")
    with pytest.raises(StackFileError, match="must hold a `config:` map"):
        load_stack_config("qa", root)


def test_the_plan_command_reports_a_broken_stack_file_in_one_line(tmp_path, capsys, monkeypatch):
    root = copy_project(tmp_path)
    (root / "Pulumi.qa.yaml").write_text("config:\n  kaito-aks:modelSize: [cpu\n")
    monkeypatch.setattr("scripts.stack_files.ROOT", root)
    assert plan.main(["qa"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("plan: Pulumi.qa.yaml is not valid YAML") and err.count("\n") == 1


def test_copying_a_stack_file_to_start_an_environment_gives_a_valid_stack(tmp_path):
    # README, Environments: "A new environment is a new file: copy one and change what differs."
    root = copy_project(tmp_path)
    shutil.copy(ROOT / "Pulumi.dev.yaml", root / "Pulumi.qa.yaml")
    config, settings = plan.stack_settings("qa", root)
    assert settings.stack == "qa" and settings.tags["environment"] == "qa"
    assert settings.resource_group_name == "rg-kaito-aks-qa"
