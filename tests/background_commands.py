"""The commands tests/background.py runs for the tests (registered by name)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.background import command

ROOT = Path(__file__).resolve().parent.parent
SETUP_REPO = "contoso/kaito-aks"
OLD_APP = "0f0f0f0f-0000-4000-8000-000000000001"
SECOND_RUN = "--- second run ---"


@command("plan-into-head")
def plan_into_head(folder: Path) -> tuple[list[str], dict[str, str] | None]:
    return ["bash", "-c", f"{sys.executable} -m scripts.plan dev --json | head -n 3"], None


@command("setup-azure")
def setup_azure_twice(folder: Path) -> tuple[list[str], dict[str, str] | None]:
    """scripts/setup-azure, twice, against tests/fake_az.py, in a subscription that still has the app of the
    single-identity setup; outputs in <folder>/first.* and second.*, the az calls in az.log."""
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    az = bin_dir / "az"
    az.write_text(f"#!/bin/sh\nexec {sys.executable} -S -E {ROOT / 'tests' / 'fake_az.py'} \"$@\"\n")
    az.chmod(0o755)
    (folder / "az.json").write_text(json.dumps({
        "apps": {"kaito-aks-github-contoso-kaito-aks": OLD_APP}, "principals": {}, "credentials": {},
        "assignments": [], "accounts": [], "vaults": [], "keys": []}))
    setup = f"{ROOT / 'scripts' / 'setup-azure'} --repo {SETUP_REPO} --with-state --with-key-vault"
    # A third run after the delegation's condition went stale (an older list of assignable roles).
    stale = ("import json; s = json.load(open('az.json')); "
             "[a.update(condition='((old))') for a in s['assignments'] if a['condition']]; "
             "json.dump(s, open('az.json', 'w'))")
    script = (f"{setup} > first.out 2> first.err; echo $? > first.rc; echo '[\"{SECOND_RUN}\"]' >> az.log; "
              f"{setup} > second.out 2> second.err; echo $? > second.rc; {sys.executable} -c \"{stale}\"; "
              f"{setup} > third.out 2> third.err; echo $? > third.rc")
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(folder), "FAKE_AZ_STATE": str(folder / "az.json"),
           "FAKE_AZ_LOG": str(folder / "az.log")}
    return ["bash", "-c", f"cd {folder} && {script}"], env


@command("checkov")
def checkov_over_every_stack_file(folder: Path) -> tuple[list[str], dict[str, str] | None]:
    """checkov over what the program renders for each stack file (<folder>/<stack>/), in one process. The
    rendering runs here, in the test process: its program runs are the suite's own (cached)."""
    from scripts import scan
    from scripts.stack_files import stack_names
    from tests.harness import SCAN_EXAMPLES, program

    for stack in stack_names():
        scan.render(stack, folder)
    for example, config in SCAN_EXAMPLES.items():
        scan.render(example, folder, program(config))
    return [*scan.checkov_command(folder)], None


HELP_MODULES = ("plan", "preflight", "prices", "generate", "scan")


@command("help-texts")
def help_texts(folder: Path) -> tuple[list[str], dict[str, str] | None]:
    """`python -m scripts.<module> --help` for each Python command, each into <folder>/<module>.{out,rc}."""
    script = "; ".join(f"{sys.executable} -m scripts.{module} --help > {folder}/{module}.out 2>&1; "
                       f"echo $? > {folder}/{module}.rc" for module in HELP_MODULES)
    return ["bash", "-c", script], None
