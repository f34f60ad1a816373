"""Offline plan: what `pulumi up` would create for a stack, with no Azure account, credentials or
Pulumi CLI. It evaluates the real program under mocks (scripts/offline.py), so it is not a preview:
it cannot see what already exists, and names and IDs Azure assigns are placeholders. Given what is
deployed (--state, a `pulumi stack export`) or an earlier stack file (--against <git revision>), it
also says what the change does to the running model (scripts/changes.py).

    ./scripts/plan [stack] [--json] [--state export.json | --against <revision>] [--changes-only]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from components.workspace import REPLACE_ON_CHANGES
from scripts import changes
from scripts.offline import DeployedState, ProgramRun, run_program, run_program_against
from scripts.stack_files import ROOT, SECRET_PLACEHOLDER, StackFileError, load_stack_config
from stacks.catalog import VM_SIZES
from stacks.settings import ConfigError, ServedModel, Settings, parse_settings, placeholder_message

WORKSPACE_TYPE = "kubernetes:kaito.sh/v1beta1:Workspace"
BANNER = (
    "OFFLINE PLAN — evaluated under mocks, not a `pulumi preview`: no Azure account, credentials or\n"
    "Pulumi state were used, so it cannot show what already exists; Azure-assigned names and IDs are\n"
    "placeholders, and preflight (quota, availability) did not run."
)


def stack_settings(stack: str, root: Path | None = None) -> tuple[dict[str, str], Settings]:
    """A stack file's config and its settings, read by the program's own parser."""
    config = load_stack_config(stack, root)
    return config, parse_settings(config, stack, present_keys=config.keys())


def evaluate(config: dict[str, str], stack: str) -> ProgramRun:
    """The program run for a stack file's config, as `pulumi preview` evaluates it (placeholders are
    warnings here, not errors)."""
    return run_program(config, stack=stack, secret_keys=secret_keys_of(config), preview=True)


def build_plan(stack: str, state: Path | None = None, against: str | None = None) -> dict[str, Any]:
    config, settings = stack_settings(stack)
    if state is not None:
        # Evaluated against what is deployed: resources it has answer with their real IDs and outputs, so the
        # comparison below shows only what this change does (scripts/offline.py DeployedStateMocks).
        deployed = load_state(state)
        run = run_program_against(config, deployed, stack, secret_keys_of(config))
        document = plan_document(stack, settings, run)
        document["comparedWith"] = f"the deployed state ({state.name})"
        document["changes"] = changes.describe_workspace_change(
            changes.workspace_in_deployment(deployed), document["workspace"], REPLACE_ON_CHANGES,
            settings.profile.readiness_timeout_minutes)
        document["resourceChanges"] = [change.line() for change in changes.resource_changes(run, deployed)]
        return document
    run = evaluate(config, stack)
    document = plan_document(stack, settings, run)
    if against is not None:
        old, source = workspace_at(stack, against)
        document["comparedWith"] = source
        document["changes"] = changes.describe_workspace_change(
            old, document["workspace"], REPLACE_ON_CHANGES, settings.profile.readiness_timeout_minutes)
    return document


def load_state(path: Path) -> DeployedState:
    """A `pulumi stack export`, or the state backend's checkpoint file (.json or .json.gz)."""
    try:
        return DeployedState.parse(path.read_bytes(), str(path))
    except OSError as error:
        raise StackFileError(f"cannot read {path}: {error}") from None
    except ValueError as error:
        raise StackFileError(str(error)) from None


def secret_keys_of(config: dict[str, str]) -> tuple[str, ...]:
    return tuple(key for key, value in config.items() if value == SECRET_PLACEHOLDER)


def workspace_at(stack: str, against: str) -> tuple[dict | None, str]:
    """The Workspace as the stack file at another git revision would make it."""
    shown = subprocess.run(["git", "show", f"{against}:Pulumi.{stack}.yaml"], capture_output=True, text=True)
    if shown.returncode != 0:
        return None, f"Pulumi.{stack}.yaml at {against} (absent: a new stack)"
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        shutil.copy(ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
        (root / f"Pulumi.{stack}.yaml").write_text(shown.stdout, encoding="utf-8")
        try:
            config = load_stack_config(stack, root)
            parse_settings(config, stack, present_keys=config.keys())
        except (ConfigError, StackFileError):
            return None, f"Pulumi.{stack}.yaml at {against} (not a valid stack file there: nothing to compare)"
    run = evaluate(config, stack)
    found = [r for r in run.resources if r.type == WORKSPACE_TYPE]
    old = {k: v for k, v in found[0].inputs.items() if k != "__defaults"} if found else None
    return old, f"Pulumi.{stack}.yaml at {against}"


def plan_document(stack: str, settings: Settings, run: ProgramRun) -> dict[str, Any]:
    config = settings.config
    size = settings.vm_size
    system = VM_SIZES.get(config.system_node_vm_size)
    names = {resource.urn: resource.name for resource in run.resources}
    # The stack's own model's Workspace (additional models' Workspaces are listed under additionalModels).
    workspace = next((r for r in run.resources if r.type == WORKSPACE_TYPE
                      and (r.inputs.get("metadata") or {}).get("name") == settings.workspace_name), None)
    manifest = {k: v for k, v in workspace.inputs.items() if k != "__defaults"} if workspace else None
    return {
        "kind": "kaito-aks offline plan",
        "notAPreview": True,
        "stack": stack,
        "region": settings.location,
        "modelSize": config.model_size,
        "kaitoInstall": settings.mode.name,
        "model": settings.model,
        "modelKind": "KAITO preset (GPU)" if settings.is_preset else "CPU model (llama.cpp, template Workspace)",
        "instanceType": settings.instance_type,
        "nodeCount": settings.node_count,
        "nodesDecidedBy": (f"KAITO {settings.mode.kaito_version}'s node estimator (model and VM size)"
                           if settings.mode.nodes_are_computed(settings.model) else "kaito-aks:nodeCount"),
        "gpus": size.gpu_count * settings.node_count,
        "gpuModel": size.gpu_model or None,
        "quotaFamily": size.quota_family,
        "vcpusNeeded": size.vcpus * settings.node_count,
        "systemPool": {
            "vmSize": config.system_node_vm_size,
            "count": config.system_node_count,
            "quotaFamily": system.quota_family if system else None,
            "vcpus": system.vcpus * config.system_node_count if system else None,
        },
        "additionalModels": [additional_model(settings, served) for served in settings.models if served.additional],
        "estimatedHourlyCostUsd": run.outputs["estimatedHourlyCostUsd"],
        "estimatedMonthlyCostUsd": run.outputs["estimatedMonthlyCostUsd"],
        "estimatedCostBasis": run.outputs["estimatedCostBasis"],
        "notices": list(settings.notices),
        "placeholders": list(settings.placeholders),
        "resources": [
            {"type": r.type, "name": r.name, "parent": names.get(r.parent, "(stack)")}
            for r in sorted(run.resources, key=lambda r: (r.parent.count("$"), r.urn))
        ],
        "workspace": manifest,
        "outputs": {k: ("[secret]" if k in run.secret_outputs else v) for k, v in sorted(run.outputs.items())},
    }


def additional_model(settings: Settings, served: ServedModel) -> dict[str, Any]:
    """One of kaito-aks:additionalModels in the plan: its size, copies and quota at the most copies."""
    nodes = settings.copy_nodes(served)
    return {"workspaceName": served.workspace_name, "model": served.model, "instanceType": served.instance_type,
            "nodeCount": nodes, "copies": [served.min_replicas, served.max_replicas],
            "gpus": served.vm_size.gpu_count * nodes, "quotaFamily": served.vm_size.quota_family,
            "vcpusNeeded": served.vm_size.vcpus * nodes * served.max_replicas}


def render(plan: dict[str, Any]) -> str:
    system = plan["systemPool"]
    gpus = f"{plan['gpus']} x {plan['gpuModel']}" if plan["gpus"] else "no GPU"
    lines = [BANNER, ""]
    lines += changes_lines(plan)
    for notice in plan["notices"]:
        lines.append(f"NOTE: {notice}")
    if plan["placeholders"]:
        lines.append("WARNING: " + placeholder_message(plan["placeholders"]) + "\n  (`pulumi up` refuses them)")
    if plan["notices"] or plan["placeholders"]:
        lines.append("")
    lines += [
        f"Stack            {plan['stack']} ({plan['region']}, modelSize {plan['modelSize']}, "
        f"kaitoInstall {plan['kaitoInstall']})",
        f"Model            {plan['model']} — {plan['modelKind']}",
        f"VM size          {plan['nodeCount']} x {plan['instanceType']} ({gpus}; nodes: {plan['nodesDecidedBy']})",
        f"Quota needed     {plan['vcpusNeeded']} vCPUs of {plan['quotaFamily']}"
        + (f"; system pool {system['count']} x {system['vmSize']}: {system['vcpus']} vCPUs of {system['quotaFamily']}"
           if system["vcpus"] is not None else f"; system pool {system['count']} x {system['vmSize']}"),
        *(f"Also serves      {extra['model']} as {extra['workspaceName']}: {extra['nodeCount']} x "
          f"{extra['instanceType']} per copy, {extra['copies'][0]}-{extra['copies'][1]} copies, up to "
          f"{extra['vcpusNeeded']} vCPUs of {extra['quotaFamily']}" for extra in plan["additionalModels"]),
        f"Estimated cost   ${plan['estimatedHourlyCostUsd']:.3f}/h, "
        f"${plan['estimatedMonthlyCostUsd']:,.2f}/month (730 h)",
        f"                 {plan['estimatedCostBasis']}",
        "",
        f"Resources ({len(plan['resources'])}):",
    ]
    width_type = max(len(r["type"]) for r in plan["resources"])
    width_name = max(len(r["name"]) for r in plan["resources"])
    lines.append(f"  {'TYPE'.ljust(width_type)}  {'NAME'.ljust(width_name)}  PARENT")
    lines += [
        f"  {r['type'].ljust(width_type)}  {r['name'].ljust(width_name)}  {r['parent']}" for r in plan["resources"]
    ]
    if plan["workspace"] is None:
        lines += ["", "Workspace manifest: none (the stack is paused)"]
    else:
        head = {key: plan["workspace"][key] for key in ("apiVersion", "kind", "metadata") if key in plan["workspace"]}
        manifest = {**head, **{k: v for k, v in sorted(plan["workspace"].items()) if k not in head}}
        lines += ["", "Workspace manifest:", yaml.safe_dump(manifest, sort_keys=False).rstrip()]
    return "\n".join(lines)


def changes_lines(plan: dict[str, Any]) -> list[str]:
    if "changes" not in plan:
        return []
    head = f"Compared with {plan['comparedWith']}:"
    model = [f"  WARNING: {change}" for change in plan["changes"]] or ["  the running model is not interrupted"]
    lines = [head, *model]
    if "resourceChanges" in plan:
        resource_lines = plan["resourceChanges"]
        lines += [f"  Resources that change ({len(resource_lines)}; the provider decides update or replace where "
                  f"kaito-aks does not):" if resource_lines else "  No resource changes: the deployed stack stays "
                  "as it is.", *(f"    {line}" for line in resource_lines)]
    return [*lines, ""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="./scripts/plan",
        description="Print what `pulumi up` would create for a stack, evaluated offline under mocks (not a preview).",
    )
    parser.add_argument("stack", nargs="?", default="dev",
                        help="stack whose Pulumi.<stack>.yaml to plan (default: dev)")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    compared = parser.add_mutually_exclusive_group()
    compared.add_argument("--state", type=Path, metavar="FILE",
                          help="the deployed stack's state (`pulumi stack export`, or the backend's checkpoint "
                               "file, .json or .json.gz): every resource that changes, and what happens to the model")
    compared.add_argument("--against", metavar="REVISION",
                          help="a git revision: compare with the stack file there (e.g. a pull request's base)")
    parser.add_argument("--changes-only", action="store_true",
                        help="with --state or --against: print only what the change does to the running model")
    args = parser.parse_args(argv)
    if args.changes_only and args.state is None and args.against is None:
        parser.error("--changes-only needs --state or --against")
    try:
        plan = build_plan(args.stack, args.state, args.against)
    except (ConfigError, StackFileError) as error:
        print(f"plan: {error}", file=sys.stderr)
        return 2
    if args.changes_only:
        return print_safely("\n".join(changes_lines(plan)).rstrip())
    return print_safely(json.dumps(plan, indent=2) if args.json else render(plan))


def print_safely(text: str) -> int:
    """Print, and end quietly when the reader has gone (`./scripts/plan prod --json | head`)."""
    try:
        print(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python would complain again when it flushes stdout at exit: point it at /dev/null.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
