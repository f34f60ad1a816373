"""Preflight as a report: the same availability and quota check the program runs, for a stack file.

    ./scripts/preflight [stack] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable

from scripts.plan import print_safely, stack_settings
from scripts.stack_files import StackFileError
from stacks.preflight import AzureCapacity, find_subscription, make_capacity, render_table, run_preflight
from stacks.settings import ConfigError


def main(argv: list[str] | None = None, capacity_factory: Callable[[str], AzureCapacity] = make_capacity,
         sleep: Callable[[float], None] = time.sleep, env: dict | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="./scripts/preflight",
        description="Check with Azure, before deploying, that a stack's VM size is offered in its region and that "
                    "vCPU quota has room (needs `az login`). Exit 0: ready; 1: nothing fits; 2: bad config.",
    )
    parser.add_argument("stack", nargs="?", default="dev",
                        help="stack whose Pulumi.<stack>.yaml to read (default: dev)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON (for CI)")
    args = parser.parse_args(argv)
    try:
        _, settings = stack_settings(args.stack)
        subscription = find_subscription(settings, env)
        report = run_preflight(settings, capacity_factory(subscription), subscription, sleep)
    except (ConfigError, StackFileError) as error:
        if args.json:
            print_safely(json.dumps({"stack": args.stack, "ok": False, "error": str(error)}, indent=2))
        else:
            print(f"preflight: {error}", file=sys.stderr)
        return 2
    if report.blocking is not None:
        if args.json:
            print_safely(json.dumps({**report.as_dict(), "ok": False, "error": report.blocking}, indent=2))
        else:
            print(report.blocking, file=sys.stderr)
        return 1
    failed = report.first_failure
    if args.json:
        print_safely(json.dumps({**report.as_dict(), "ok": failed is None}, indent=2))
    elif failed is None:
        print_safely("\n".join(
            line for checked in report.every_model for line in (
                f"preflight for stack {args.stack}: {checked.model.model} on {checked.home.chosen.nodes} x "
                f"{checked.chosen} in {settings.location}: OK",
                render_table(checked.home.checks),
                *checked.explanation(),
            )))
    else:
        print(failed.failure_message(), file=sys.stderr)
    return 0 if failed is None else 1


if __name__ == "__main__":
    sys.exit(main())
