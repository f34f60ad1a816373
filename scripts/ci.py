"""Helpers the GitHub workflows call, kept here so they are tested like the rest.

    python -m scripts.ci affected --base <sha>       stacks a pull request touches, as stacks=<json>
    python -m scripts.ci teardown [--today <date>]   what the nightly teardown does, as matrix=<json> and
                                                      invalid=<json> (stacks whose config is wrong)
    python -m scripts.ci cost-comment --stack <s> [--state FILE | --against REV]
                                                      the offline plan's figures as a PR comment (Markdown)
    python -m scripts.ci pr-comment --stack <s> --base <sha>
                                                      the pull request's comparison with the deployed stack
                                                      (read with the read-only identity) and a live quota
                                                      check, as a PR comment (Markdown)

Every stack is read through the program's own parser (stacks/settings), so a wrong value is
reported here exactly as `pulumi up` would report it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from scripts.plan import stack_settings
from scripts.stack_files import StackFileError, stack_names
from stacks.settings import ConfigError

COMMENT_MARKER = "<!-- kaito-aks offline plan -->"
# Changes that cannot alter any stack's resources.
NO_EFFECT_PREFIXES = ("docs/", "tests/", "tests_e2e/", ".github/ISSUE_TEMPLATE/")
NO_EFFECT_SUFFIXES = (".md",)


def affected_stacks(changed_files: Iterable[str], stacks: Iterable[str]) -> list[str]:
    """A stack file's change affects that stack; a change to the program affects every stack."""
    stacks = sorted(stacks)
    touched: set[str] = set()
    for path in changed_files:
        if path.startswith("Pulumi.") and path.endswith(".yaml") and path != "Pulumi.yaml":
            stack = path[len("Pulumi."):-len(".yaml")]
            if stack in stacks:
                touched.add(stack)
        elif path.startswith(NO_EFFECT_PREFIXES) or path.endswith(NO_EFFECT_SUFFIXES):
            continue
        else:
            return stacks
    return sorted(touched)


def teardown_actions(stacks: Iterable[str], today: datetime.date, only: str | None = None,
                     action: str | None = None, root: Path | None = None,
                     ) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """What the scheduled teardown does (destroy expired stacks, else each stack's autoTeardown), and
    the stacks it cannot read: one wrong stack file does not stop the others being handled."""
    planned: list[dict[str, str]] = []
    invalid: list[dict[str, str]] = []
    for stack in sorted(stacks):
        if only and stack != only:
            continue
        if only and action:
            planned.append({"stack": stack, "action": action})
            continue
        try:
            _, settings = stack_settings(stack, root)
        except (ConfigError, StackFileError) as error:
            invalid.append({"stack": stack, "error": str(error)})
            continue
        config = settings.config
        if config.expires_on and datetime.date.fromisoformat(config.expires_on) < today:
            planned.append({"stack": stack, "action": "destroy"})
        elif config.auto_teardown in ("pause", "destroy"):
            planned.append({"stack": stack, "action": config.auto_teardown})
    return planned, invalid


def cost_comment(plan: dict) -> str:
    system = plan["systemPool"]
    return "\n".join([
        COMMENT_MARKER,
        f"### Offline plan for stack `{plan['stack']}`",
        "",
        "| | |",
        "| --- | --- |",
        f"| model | `{plan['model']}` ({plan['modelKind']}) |",
        f"| model nodes | {plan['nodeCount']} × `{plan['instanceType']}` ({plan['gpus']} GPU) |",
        f"| quota needed | {plan['vcpusNeeded']} vCPUs of `{plan['quotaFamily']}` + system pool "
        f"{system['count']} × `{system['vmSize']}` |",
        f"| estimated cost | **${plan['estimatedHourlyCostUsd']:.3f}/h, "
        f"${plan['estimatedMonthlyCostUsd']:,.2f}/month** |",
        *(f"\n> **Replaces the running model:** {change}" for change in plan.get("changes", [])),
        *(f"\n> **Note:** {notice}" for notice in plan["notices"]),
        *(f"\n> **Placeholder:** {placeholder}" for placeholder in plan["placeholders"]),
        "",
        f"_{plan['estimatedCostBasis']}. Evaluated offline under mocks: not a preview._",
    ])


PROJECT = "kaito-aks"


def fetch_state(stack: str, destination: Path, env: dict[str, str] | None = None,
                run: Any = subprocess.run) -> str | None:
    """Download the stack's checkpoint from an azblob:// state backend with the caller's Azure sign-in (no key,
    no passphrase: the checkpoint is read as stored, secrets stay ciphertext). Returns the blob read, or None
    when the backend is not azblob or the stack has no state yet."""
    env = dict(os.environ if env is None else env)
    url = env.get("PULUMI_BACKEND_URL", "")
    if not url.startswith("azblob://"):
        return None
    container, _, query = url[len("azblob://"):].partition("?")
    account = parse_qs(query).get("storage_account", [env.get("AZURE_STORAGE_ACCOUNT", "")])[0]
    if not account:
        raise StackFileError("PULUMI_BACKEND_URL is azblob:// but AZURE_STORAGE_ACCOUNT is not set")
    # Project-scoped stacks, then the older layout (pulumi/pulumi@v3.259.0:pkg/backend/diy/store.go).
    for blob in (f".pulumi/stacks/{PROJECT}/{stack}.json", f".pulumi/stacks/{PROJECT}/{stack}.json.gz",
                 f".pulumi/stacks/{stack}.json", f".pulumi/stacks/{stack}.json.gz"):
        result = run(["az", "storage", "blob", "download", "--auth-mode", "login", "--account-name", account,
                      "--container-name", container, "--name", blob, "--file", str(destination),
                      "--only-show-errors", "--no-progress", "--output", "none"],
                     capture_output=True, text=True)
        if result.returncode == 0:
            return blob
        if "BlobNotFound" not in result.stderr and "does not exist" not in result.stderr:
            raise StackFileError(f"cannot read the state of {stack} from {url}: {result.stderr.strip()[:300]}")
    return None


def pr_comment(stack: str, base: str, workdir: Path, env: dict[str, str] | None = None,
               run: Any = subprocess.run, preflight_main: Any = None) -> str:
    """The pull request's comment for one stack: what changes in the deployed stack, cost, live quota."""
    from scripts.plan import build_plan

    state = workdir / f"{stack}.state"
    blob = fetch_state(stack, state, env, run)
    plan = build_plan(stack, state=state) if blob else build_plan(stack, against=base)
    lines = [f"{COMMENT_MARKER} {stack}", cost_comment(plan).split("\n", 1)[1]]
    if blob:
        changes = plan["resourceChanges"]
        lines += ["", f"#### Compared with what is deployed (`{blob}`)", "",
                  "No resource changes: the deployed stack stays as it is." if not changes else
                  f"{len(changes)} resources change (where kaito-aks does not ask for a replacement, the provider "
                  f"decides between update and replace):",
                  *(["```diff", *changes, "```"] if changes else [])]
    else:
        lines += ["", "_No deployed state to compare with (a new stack, or state outside an azblob:// backend): "
                      "compared with the base branch's stack file only._"]
    lines += ["", "#### Quota and availability (live, read-only)", "", "```", *preflight_lines(stack, preflight_main),
              "```", "", "_The real `pulumi preview` runs in the stack's GitHub environment (deploy.yml), where the "
              "state passphrase is; this comparison needs no secret._"]
    return "\n".join(lines)


def preflight_lines(stack: str, preflight_main: Any = None) -> list[str]:
    import contextlib
    import io

    if preflight_main is None:
        from scripts.preflight import main as preflight_main
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = preflight_main([stack])
    except Exception as error:  # noqa: BLE001 - the comment still says what it could and could not check
        return ["preflight: not checked", f"{error.__class__.__name__}: {str(error).splitlines()[0][:300]}"]
    verdict = {0: "ready", 1: "NOT READY (below: why, and what to do)", 2: "not checked"}[code]
    return [f"preflight: {verdict}", *out.getvalue().rstrip().splitlines()]


def measurement_summary(stack: str, measured: Any) -> str:
    """The smoke test's measurement (the smokeTestMeasurement output) as a Markdown section for the job summary."""
    title = f"### {stack}: measured throughput and cost"
    if not isinstance(measured, dict):
        return f"{title}\n\nNo measurement: the stack is paused, or kaito-aks:measureStreams is 0.\n"
    if "error" in measured:
        return f"{title}\n\nThe measurement did not complete: {measured['error']}\n"
    rows = [
        ("Load", f"{measured['streams']} concurrent streams of up to {measured['maxTokensPerStream']} tokens"),
        ("Output tokens per second", f"{measured['outputTokensPerSecond']:g} ({measured['outputTokens']} tokens in "
                                     f"{measured['seconds']:g} s, counted from {measured['countedFrom']})"),
        ("Time to first token", f"p50 {measured['ttftP50Seconds']:g} s, max {measured['ttftMaxSeconds']:g} s"),
    ]
    if "costPerMillionOutputTokensUsd" in measured:
        rows.append(("Cost per million output tokens",
                     f"${measured['costPerMillionOutputTokensUsd']:,.2f} at ${measured['hourlyCostUsd']:g}/h (at "
                     "this load; a busier model produces more tokens for the same hour)"))
    table = "\n".join(f"| {name} | {value} |" for name, value in rows)
    return f"{title}\n\n| | |\n| --- | --- |\n{table}\n"


def changed_files(base: str) -> list[str]:
    result = subprocess.run(["git", "diff", "--name-only", f"{base}...HEAD"], capture_output=True, text=True,
                            check=True)
    return [line for line in result.stdout.splitlines() if line]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.ci", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    affected = commands.add_parser("affected", help="stacks a pull request touches")
    affected.add_argument("--base", required=True, help="the pull request's base commit")
    teardown = commands.add_parser("teardown", help="what the nightly teardown does to each stack")
    teardown.add_argument("--today", default=datetime.date.today().isoformat(), help="the date to judge expiry by")
    teardown.add_argument("--stack", default="", help="only this stack (by hand)")
    teardown.add_argument("--action", default="", choices=("", "pause", "destroy"), help="with --stack: what to do")
    pr = commands.add_parser("pr-comment", help="compare with the deployed stack and check quota, for a PR")
    pr.add_argument("--stack", required=True)
    pr.add_argument("--base", required=True, help="the pull request's base commit (used when nothing is deployed)")
    comment = commands.add_parser("cost-comment", help="the offline plan's figures as a PR comment")
    comment.add_argument("--stack", required=True)
    compared = comment.add_mutually_exclusive_group()
    compared.add_argument("--state", type=Path, help="a `pulumi stack export`: say what the change does to the model")
    compared.add_argument("--against", help="a git revision whose stack file to compare with")
    summary = commands.add_parser("measurement-summary", help="the smoke test's measurement for the job summary")
    summary.add_argument("--stack", required=True)
    summary.add_argument("--file", type=Path, required=True,
                         help="`pulumi stack output smokeTestMeasurement --json`, or a file holding null")
    args = parser.parse_args(argv)

    if args.command == "affected":
        print(f"stacks={json.dumps(affected_stacks(changed_files(args.base), stack_names()))}")
        return 0
    if args.command == "measurement-summary":
        text = args.file.read_text(encoding="utf-8").strip() if args.file.exists() else ""
        try:
            measured = json.loads(text) if text else None
        except ValueError:
            measured = None
        print(measurement_summary(args.stack, measured))
        return 0
    if args.command == "teardown":
        if args.stack and args.stack not in stack_names():
            print(f"teardown: no stack file Pulumi.{args.stack}.yaml (stack files: {', '.join(stack_names())})",
                  file=sys.stderr)
            return 2
        actions, invalid = teardown_actions(stack_names(), datetime.date.fromisoformat(args.today),
                                            args.stack or None, args.action or None)
        for problem in invalid:
            print(f"teardown: stack {problem['stack']} is left alone tonight: {problem['error']}", file=sys.stderr)
        print(f"matrix={json.dumps(actions)}")
        print(f"invalid={json.dumps([problem['stack'] for problem in invalid])}")
        return 0
    from scripts.plan import build_plan

    try:
        if args.command == "pr-comment":
            import tempfile

            with tempfile.TemporaryDirectory() as folder:
                print(pr_comment(args.stack, args.base, Path(folder)))
            return 0
        print(cost_comment(build_plan(args.stack, args.state, args.against)))
    except (ConfigError, StackFileError) as error:
        print(f"cost-comment: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
