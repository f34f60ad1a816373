"""The README stays true: its test command is CI's, and its profile table is the catalog's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stacks import catalog
from stacks.profiles import PROFILES

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_ci_runs_exactly_the_readme_test_command():
    assert "```bash\n./scripts/test\n```" in README
    ci_commands = [
        line for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line and not line.startswith(("#", "set ", "cd "))
    ]
    assert ci_commands == ["./scripts/test", "./scripts/test-e2e"]
    assert "```bash\n./scripts/test-e2e\n```" in README


def test_readme_deploy_command_exists():
    assert "```bash\n./scripts/deploy\n```" in README
    assert (ROOT / "scripts" / "deploy").stat().st_mode & 0o111


@pytest.mark.parametrize("model_size", PROFILES)
def test_profile_table_matches_the_catalog(model_size):
    row = next(line for line in README.splitlines() if line.startswith(f"| `{model_size}` |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    profile = PROFILES[model_size]
    size = catalog.VM_SIZES[profile.instance_types[0]]
    assert cells[1].split()[0] == profile.model
    assert cells[2] == size.name
    assert cells[3] == ("—" if not size.has_gpu else f"{size.gpu_count} × {re.sub('^NVIDIA ', '', size.gpu_model)}")
    assert cells[4] == size.quota_family
    assert cells[5] == str(size.vcpus)
    assert float(cells[6]) == size.price_usd_per_hour
