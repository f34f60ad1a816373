"""The shell scripts: valid bash, complete --help, and they fail with a useful line before doing anything."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests import background
from tests.background_commands import HELP_MODULES

ROOT = Path(__file__).resolve().parent.parent
SHELL_SCRIPTS = sorted(
    path for path in (ROOT / "scripts").iterdir()
    if path.is_file() and path.suffix == "" or path.suffix == ".sh"
)
COMMANDS = [path for path in SHELL_SCRIPTS if path.suffix == ""]


def test_the_shell_scripts_are_found():
    names = {path.name for path in COMMANDS}
    assert {"deploy", "test", "test-e2e", "plan", "preflight", "prices", "generate", "setup-azure"} <= names


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda p: p.name)
def test_script_is_valid_bash(script):
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("script", COMMANDS, ids=lambda p: p.name)
def test_script_is_executable_and_strict(script):
    assert os.access(script, os.X_OK)
    assert "set -euo pipefail" in script.read_text()


@pytest.mark.parametrize("name", ["deploy", "setup-azure"])
def test_help_explains_every_argument_without_doing_anything(name, tmp_path):
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run([str(ROOT / "scripts" / name), "--help"], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert f"./scripts/{name}" in result.stdout
    assert "--" in result.stdout  # the options are listed


@pytest.mark.background("help-texts")
@pytest.mark.parametrize("module", HELP_MODULES)
def test_python_commands_have_a_complete_help(module):
    finished, folder = background.result("help-texts")  # python -m scripts.<module> --help, for each
    assert finished.returncode == 0, finished.stderr
    assert (folder / f"{module}.rc").read_text().strip() == "0", (folder / f"{module}.out").read_text()
    text = (folder / f"{module}.out").read_text()
    assert f"usage: ./scripts/{module}" in text
    assert text.count("\n  ") >= 2  # every argument is described


def test_setup_azure_needs_the_repository():
    result = subprocess.run([str(ROOT / "scripts" / "setup-azure")], capture_output=True, text=True)
    assert result.returncode == 1
    assert "--repo OWNER/NAME is required" in result.stderr


def fake_tools(folder: Path, **scripts: str) -> Path:
    """Stand-ins for pulumi/az on PATH, recording how they were called."""
    for name, body in scripts.items():
        tool = folder / name
        tool.write_text(f"#!/usr/bin/env bash\n{body}\n")
        tool.chmod(0o755)
    return folder


def test_deploy_says_what_is_missing_when_the_pulumi_cli_is_not_installed(tmp_path):
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run([str(ROOT / "scripts" / "deploy")], capture_output=True, text=True, env=env)
    assert result.returncode == 1
    assert "the Pulumi CLI is not installed" in result.stderr


def deploy_sandbox(tmp_path: Path) -> tuple[Path, dict[str, str], Path]:
    """A copy of the deploy script with its stack file and an installed-looking .venv, plus fake
    pulumi and az CLIs that record how they were called."""
    import hashlib
    import shutil

    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    for name in ("deploy", "lib.sh"):
        shutil.copy(ROOT / "scripts" / name, project / "scripts" / name)
    shutil.copy(ROOT / "Pulumi.dev.yaml", project)
    requirements = b""
    for path in sorted(ROOT.glob("requirements*.txt")):
        shutil.copy(path, project)
        requirements += path.read_bytes()
    (project / ".venv" / "bin").mkdir(parents=True)
    fake_python = project / ".venv" / "bin" / "python"
    fake_python.write_text("#!/bin/sh\nexit 0\n")
    fake_python.chmod(0o755)
    stamp = project / ".venv" / ".installed-requirements.txt.sha256"
    stamp.write_text(hashlib.sha256(requirements).hexdigest() + "\n")
    calls = tmp_path / "calls.log"
    tools = fake_tools(tmp_path / "bin", pulumi=f'echo "pulumi $*" >> {calls}', az=f'echo "az $*" >> {calls}',
                       kubelogin=f'echo "kubelogin $*" >> {calls}')
    return project, {"PATH": f"{tools}:/usr/bin:/bin", "HOME": str(tmp_path)}, calls


@pytest.mark.parametrize(("arguments", "expected"), [
    (["--yes"], "pulumi up --stack dev --yes"),
    (["dev", "--yes", "--diff"], "pulumi up --stack dev --yes --diff"),
    ([], "pulumi up --stack dev"),
])
def test_deploy_passes_flags_to_pulumi_up_and_a_leading_flag_means_the_dev_stack(arguments, expected, tmp_path):
    (tmp_path / "bin").mkdir()
    project, env, calls = deploy_sandbox(tmp_path)
    result = subprocess.run([str(project / "scripts" / "deploy"), *arguments], capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert calls.read_text().splitlines()[-1] == expected
    assert "pulumi stack select --create dev" in calls.read_text()


def test_deploy_says_how_to_get_kubelogin_before_touching_anything(tmp_path):
    (tmp_path / "bin").mkdir()
    project, env, calls = deploy_sandbox(tmp_path)
    (tmp_path / "bin" / "kubelogin").unlink()
    result = subprocess.run([str(project / "scripts" / "deploy"), "--yes"], capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode == 1
    assert "kubelogin is not installed" in result.stderr and "az aks install-cli" in result.stderr
    assert "pulumi" not in calls.read_text()


def test_deploy_names_a_missing_stack_file(tmp_path):
    (tmp_path / "bin").mkdir()
    project, env, calls = deploy_sandbox(tmp_path)
    result = subprocess.run([str(project / "scripts" / "deploy"), "qa", "--yes"], capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode == 1
    assert "no Pulumi.qa.yaml: copy Pulumi.dev.yaml to Pulumi.qa.yaml" in result.stderr
    assert "pulumi up" not in calls.read_text()
