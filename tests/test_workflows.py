"""The GitHub workflows: valid, hardened, wired to the program's helpers; and those helpers."""

from __future__ import annotations

import datetime
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from scripts import ci
from scripts.plan import build_plan

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
BIN = Path(sys.executable).parent
PINNED = {
    "actions/checkout": "3d3c42e5aac5ba805825da76410c181273ba90b1",
    "actions/setup-python": "5fda3b95a4ea91299a34e894583c3862153e4b97",
    "azure/login": "f5d393ae46f8fde4be8b75f32e3fc50e654ad0ca",
    "pulumi/actions": "8e5e406f4007fca908480587cb9893c07090f58d",
}


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())


def steps(workflow: dict):
    for job in workflow["jobs"].values():
        yield from job.get("steps", [])


def test_workflows_match_githubs_schema():
    result = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_pass_zizmor():
    result = subprocess.run([str(BIN / "zizmor"), "--offline", str(ROOT / ".github" / "workflows")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_to_the_release_commit(path):
    for step in steps(yaml.safe_load(path.read_text())):
        if "uses" in step:
            action, ref = step["uses"].split("@")
            assert PINNED[action] == ref.split()[0], step["uses"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_grant_nothing_by_default(path):
    workflow = yaml.safe_load(path.read_text())
    assert workflow["permissions"] == {}
    for job in workflow["jobs"].values():
        assert set(job["permissions"]) <= {"contents", "id-token", "pull-requests"}
        if any(step.get("uses", "").startswith("actions/checkout") for step in job.get("steps", [])):
            assert job["permissions"]["contents"] == "read"
        else:
            assert job["permissions"] == {}


def test_pr_preview_posts_the_diff_logs_in_by_oidc_and_queues_per_stack():
    workflow = load("preview.yml")
    assert set(workflow[True]) == {"pull_request"}  # PyYAML reads the key `on` as True
    preview = workflow["jobs"]["preview"]
    assert preview["permissions"] == {"contents": "read", "id-token": "write", "pull-requests": "write"}
    assert preview["concurrency"] == {"group": "pulumi-${{ matrix.stack }}", "cancel-in-progress": False}
    uses = {step["uses"].split("@")[0]: step for step in preview["steps"] if "uses" in step}
    assert "client-secret" not in uses["azure/login"]["with"] and "creds" not in uses["azure/login"]["with"]
    assert uses["pulumi/actions"]["with"]["command"] == "preview"
    assert uses["pulumi/actions"]["with"]["comment-on-pr"] is True
    assert preview["env"]["ARM_USE_OIDC"] == "true"
    assert any("scripts.ci cost-comment" in step.get("run", "") for step in preview["steps"])
    plan_job = workflow["jobs"]["plan"]
    assert plan_job["permissions"] == {"contents": "read"}
    assert any("scripts.plan" in step.get("run", "") for step in plan_job["steps"])


def test_deploy_goes_dev_then_staging_then_prod_in_their_environments():
    job = load("deploy.yml")["jobs"]["up"]
    assert job["strategy"]["matrix"]["stack"] == ["dev", "staging", "prod"]
    assert job["strategy"]["max-parallel"] == 1 and job["strategy"]["fail-fast"] is True
    assert job["environment"] == "${{ matrix.stack }}"
    (pulumi,) = [s for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions")]
    assert pulumi["with"]["command"] == "up"


def test_teardown_runs_nightly_and_on_demand_with_the_hook_enabled():
    workflow = load("teardown.yml")
    assert workflow[True]["schedule"] == [{"cron": "0 19 * * *"}]
    assert "workflow_dispatch" in workflow[True]
    run = next(s["run"] for s in workflow["jobs"]["teardown"]["steps"] if s.get("name") == "Pause or destroy")
    assert "pulumi destroy --stack \"$STACK\" --yes --skip-preview --run-program" in run
    assert "--config kaito-aks:paused=true" in run


# --- the helpers the workflows call ---------------------------------------------------------


STACKS = ["dev", "prod", "staging"]


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        (["Pulumi.prod.yaml"], ["prod"]),
        (["Pulumi.prod.yaml", "README.md", "tests/test_plan.py"], ["prod"]),
        (["README.md", "docs/setup.md"], []),
        (["components/workspace.py"], STACKS),
        (["Pulumi.yaml"], STACKS),
        (["Pulumi.dev.yaml", "stacks/profiles.py"], STACKS),
        (["Pulumi.gone.yaml"], []),
    ],
)
def test_affected_stacks(changed, expected):
    assert ci.affected_stacks(changed, STACKS) == expected


def stack_folder(tmp_path: Path, stacks: dict[str, str]) -> Path:
    """A project folder holding Pulumi.yaml and the given stack files."""
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    for stack, body in stacks.items():
        (tmp_path / f"Pulumi.{stack}.yaml").write_text(body)
    return tmp_path


def config_of(**values: str) -> str:
    return "config:\n  azure-native:location: eastus\n" + "".join(f"  kaito-aks:{k}: {v}\n" for k, v in values.items())


def test_teardown_follows_each_stacks_policy_and_expiry(tmp_path):
    root = stack_folder(tmp_path, {
        "dev": config_of(autoTeardown="pause"),
        "demo": config_of(autoTeardown="destroy"),
        "prod": config_of(autoTeardown="none"),
        "trial": config_of(expiresOn="2026-11-01", autoTeardown="pause"),
        "later": config_of(expiresOn="2026-12-31"),
    })
    actions, invalid = ci.teardown_actions(ci.stack_names(root), datetime.date(2026, 11, 22), root=root)
    assert actions == [{"stack": "demo", "action": "destroy"}, {"stack": "dev", "action": "pause"},
                       {"stack": "trial", "action": "destroy"}]
    assert invalid == []


def test_one_wrong_stack_file_does_not_stop_the_others(tmp_path):
    root = stack_folder(tmp_path, {
        "dev": config_of(autoTeardown="pause"),
        "broken": config_of(expiresOn="next friday"),
        "typo": "config:\n  azure-native:location: eastus\n  kaito-aks:modelSize: [cpu\n",
        "staging": config_of(autoTeardown="pause"),
    })
    actions, invalid = ci.teardown_actions(ci.stack_names(root), datetime.date(2026, 11, 22), root=root)
    assert actions == [{"stack": "dev", "action": "pause"}, {"stack": "staging", "action": "pause"}]
    errors = {problem["stack"]: problem["error"] for problem in invalid}
    assert set(errors) == {"broken", "typo"}
    assert "kaito-aks:expiresOn 'next friday' is not a date" in errors["broken"]
    assert "Pulumi.typo.yaml is not valid YAML" in errors["typo"] and "line 4, column" in errors["typo"]


def test_the_teardown_command_names_a_wrong_stack_and_still_prints_the_matrix(tmp_path, capsys, monkeypatch):
    root = stack_folder(tmp_path, {"dev": config_of(autoTeardown="pause"), "broken": config_of(modelSize="huge")})
    monkeypatch.setattr(ci, "stack_names", lambda: ["broken", "dev"])
    real = ci.teardown_actions
    monkeypatch.setattr(ci, "teardown_actions", lambda *args: real(*args, root=root))
    assert ci.main(["teardown", "--today", "2026-11-22"]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == ['matrix=[{"stack": "dev", "action": "pause"}]', 'invalid=["broken"]']
    assert "stack broken is left alone tonight" in captured.err and "kaito-aks:modelSize 'huge'" in captured.err


def test_the_teardown_workflow_fails_after_handling_the_others_when_a_stack_is_unreadable():
    jobs = load("teardown.yml")["jobs"]
    assert jobs["plan"]["outputs"]["invalid"] == "${{ steps.plan.outputs.invalid }}"
    unreadable = jobs["unreadable"]
    assert unreadable["needs"] == ["plan", "teardown"] and unreadable["if"].startswith("always()")
    assert "exit 1" in unreadable["steps"][0]["run"]


def test_teardown_by_hand_for_one_stack(capsys):
    assert ci.main(["teardown", "--stack", "prod", "--action", "destroy"]) == 0
    assert capsys.readouterr().out.splitlines() == ['matrix=[{"stack": "prod", "action": "destroy"}]', 'invalid=[]']
    assert ci.main(["teardown", "--stack", "nope", "--action", "pause"]) == 2


def test_cost_comment_carries_the_plans_figures(capsys):
    assert ci.main(["cost-comment", "--stack", "staging"]) == 0
    comment = capsys.readouterr().out
    assert comment.startswith(ci.COMMENT_MARKER)
    document = build_plan("staging")
    assert f"{document['nodeCount']} × `{document['instanceType']}` ({document['gpus']} GPU)" in comment
    assert (f"**${document['estimatedHourlyCostUsd']:.3f}/h, "
            f"${document['estimatedMonthlyCostUsd']:,.2f}/month**") in comment
    assert "not a preview" in comment
    # staging ships a placeholder e-mail address: the comment says so.
    assert "**Placeholder:** kaito-aks:budgetContactEmails entry platform-team@example.com" in comment
