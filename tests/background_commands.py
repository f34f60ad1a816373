"""The commands tests/background.py runs for the tests (registered by name)."""

from __future__ import annotations

import json
import os
import shlex
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


WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
ACTIONS = sorted((ROOT / ".github" / "actions").glob("*/action.yml"))


@command("github-schemas")
def github_schemas(folder: Path) -> tuple[list[str], dict[str, str] | None]:
    """check-jsonschema over the workflows and over the composite actions, each against GitHub's schema of its kind,
    into <folder>/<kind>.{out,rc} (kind: workflows, actions)."""
    check = Path(sys.executable).parent / "check-jsonschema"
    script = "; ".join(
        shlex.join([str(check), "--builtin-schema", f"vendor.github-{kind}", *map(str, paths)])
        + f" > {folder}/{kind}.out 2>&1; echo $? > {folder}/{kind}.rc"
        for kind, paths in (("workflows", WORKFLOWS), ("actions", ACTIONS)))
    return ["bash", "-c", script], None


@command("zizmor")
def zizmor(folder: Path) -> tuple[list[str], dict[str, str] | None]:
    """zizmor's auditor persona over .github, offline."""
    return [str(Path(sys.executable).parent / "zizmor"), "--offline", "--persona", "auditor",
            str(ROOT / ".github")], {**os.environ, "NO_COLOR": "1"}


PRINTERS = ("print_safely", "print")


@command("pipe-printers")
def pipe_printers(folder: Path) -> tuple[list[str], dict[str, str] | None]:
    """A megabyte printed into `head -c 10` by each printer (scripts/plan.py's print_safely, and plain print): what
    head read into <folder>/<printer>.out, what Python said into <folder>/<printer>.err."""
    script = "; ".join(
        f"{sys.executable} -c \"from scripts.plan import print_safely; {printer}('x' * 1_000_000)\""
        f" 2> {folder}/{printer}.err | head -c 10 > {folder}/{printer}.out"
        for printer in PRINTERS)
    return ["bash", "-c", script], None


MEASUREMENT_ANSWERS = ("recorded", "no output")


def measurement_step() -> dict:
    """deploy.yml's step that writes the measured throughput and cost into the job summary."""
    import yaml

    deploy = yaml.safe_load((ROOT / ".github" / "workflows" / "deploy.yml").read_text())
    return next(s for s in deploy["jobs"]["up"]["steps"] if s.get("name") == "Measured throughput and cost")


@command("measurement-summaries")
def measurement_summaries(folder: Path) -> tuple[list[str], dict[str, str] | None]:
    """deploy.yml's measurement step for stack prod, run as the job runs it, once per answer of a `pulumi` that
    answers like `pulumi stack output smokeTestMeasurement --json` (recorded) or fails (no output, no such output):
    each in <folder>/<answer>/ (its summary.md, and rc)."""
    from scripts.offline import RECORDED_MEASUREMENT
    from stacks.compose import with_cost_per_million_tokens

    measured = with_cost_per_million_tokens(json.loads(RECORDED_MEASUREMENT), 3.865)
    step = shlex.quote(measurement_step()["run"])
    runs = []
    for answer in MEASUREMENT_ANSWERS:
        place = folder / answer
        fake = place / "bin" / "pulumi"
        fake.parent.mkdir(parents=True)
        fake.write_text("#!/bin/sh\n" + (f"cat <<'EOF'\n{json.dumps(measured, indent=2)}\nEOF\n" if answer == "recorded"
                                         else "echo 'error: current stack does not have output' >&2; exit 255\n"))
        fake.chmod(0o755)
        env = {"PATH": f"{fake.parent}:{os.environ['PATH']}", "STACK": "prod", "RUNNER_TEMP": str(place),
               "GITHUB_STEP_SUMMARY": str(place / "summary.md")}
        exports = " ".join(f"{key}={shlex.quote(value)}" for key, value in env.items())
        runs.append(f"env {exports} bash -e -o pipefail -c {step}"
                    f" > {shlex.quote(str(place))}/out 2>&1; echo $? > {shlex.quote(str(place))}/rc")
    return ["bash", "-c", "; ".join(runs)], None
