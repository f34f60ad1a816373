"""The shell scripts: valid bash, and they fail with a useful line before doing anything."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted(p for p in (ROOT / "scripts").iterdir() if p.is_file())


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_is_valid_bash(script):
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("script", [s for s in SCRIPTS if s.name != "lib.sh"], ids=lambda p: p.name)
def test_script_is_executable_and_strict(script):
    assert os.access(script, os.X_OK)
    assert "set -euo pipefail" in script.read_text()


def test_setup_azure_needs_the_repository():
    result = subprocess.run([str(ROOT / "scripts" / "setup-azure")], capture_output=True, text=True)
    assert result.returncode == 1
    assert "--repo OWNER/NAME is required" in result.stderr


def test_deploy_says_what_is_missing_when_the_pulumi_cli_is_not_installed(tmp_path):
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run([str(ROOT / "scripts" / "deploy")], capture_output=True, text=True, env=env)
    assert result.returncode == 1
    assert "the Pulumi CLI is not installed" in result.stderr
