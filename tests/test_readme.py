"""The README stays true: its commands exist and its test command is CI's.

Its tables are generated from the code's data (tests/test_project_file.py checks them).
"""

from __future__ import annotations

from pathlib import Path

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
