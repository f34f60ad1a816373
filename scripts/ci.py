"""Helpers the GitHub workflows call, kept here so they are tested like the rest.

    python -m stacks.ci affected --base <sha>       stacks a pull request touches, as stacks=<json>
    python -m stacks.ci teardown --today <date>     what the nightly teardown does, as matrix=<json>
    python -m stacks.ci cost-comment --stack <s>    the offline plan's figures as a PR comment (Markdown)
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
from typing import Iterable, Optional

from stacks.stack_files import load_stack_config, stack_names

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


def teardown_actions(stacks: Iterable[str], today: datetime.date, only: Optional[str] = None,
                     action: Optional[str] = None) -> list[dict[str, str]]:
    """What the scheduled teardown does: destroy expired stacks, else each stack's autoTeardown."""
    planned = []
    for stack in sorted(stacks):
        if only and stack != only:
            continue
        config = load_stack_config(stack)
        if only and action:
            planned.append({"stack": stack, "action": action})
            continue
        expires = config.get("kaito-aks:expiresOn") or ""
        if expires and datetime.date.fromisoformat(expires) < today:
            planned.append({"stack": stack, "action": "destroy"})
            continue
        policy = config.get("kaito-aks:autoTeardown", "none")
        if policy in ("pause", "destroy"):
            planned.append({"stack": stack, "action": policy})
    return planned


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
        f"| estimated cost | **${plan['estimatedHourlyCostUsd']:.3f}/h, ${plan['estimatedMonthlyCostUsd']:,.2f}/month** |",
        "",
        f"_{plan['estimatedCostBasis']}. Evaluated offline under mocks: not a preview._",
    ])


def changed_files(base: str) -> list[str]:
    result = subprocess.run(["git", "diff", "--name-only", f"{base}...HEAD"], capture_output=True, text=True, check=True)
    return [line for line in result.stdout.splitlines() if line]


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stacks.ci")
    commands = parser.add_subparsers(dest="command", required=True)
    affected = commands.add_parser("affected")
    affected.add_argument("--base", required=True)
    teardown = commands.add_parser("teardown")
    teardown.add_argument("--today", default=datetime.date.today().isoformat())
    teardown.add_argument("--stack", default="")
    teardown.add_argument("--action", default="", choices=("", "pause", "destroy"))
    comment = commands.add_parser("cost-comment")
    comment.add_argument("--stack", required=True)
    args = parser.parse_args(argv)

    if args.command == "affected":
        print(f"stacks={json.dumps(affected_stacks(changed_files(args.base), stack_names()))}")
    elif args.command == "teardown":
        if args.stack and args.stack not in stack_names():
            print(f"no stack file Pulumi.{args.stack}.yaml", file=sys.stderr)
            return 2
        actions = teardown_actions(stack_names(), datetime.date.fromisoformat(args.today), args.stack or None,
                                   args.action or None)
        print(f"matrix={json.dumps(actions)}")
    else:
        from stacks.plan import build_plan

        print(cost_comment(build_plan(args.stack)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
