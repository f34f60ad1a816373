"""The GitHub workflows: valid, hardened, wired to the program's helpers; and those helpers."""

from __future__ import annotations

import datetime
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stacks import ci

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
        assert job["permissions"]["contents"] == "read"


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
    assert any("stacks.ci cost-comment" in step.get("run", "") for step in preview["steps"])
    plan_job = workflow["jobs"]["plan"]
    assert plan_job["permissions"] == {"contents": "read"}
    assert any("stacks.plan" in step.get("run", "") for step in plan_job["steps"])


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


def test_teardown_follows_each_stacks_policy():
    actions = ci.teardown_actions(ci.stack_names(), datetime.date(2026, 11, 22))
    assert actions == [{"stack": "dev", "action": "pause"}, {"stack": "staging", "action": "pause"}]


def test_teardown_destroys_an_expired_stack(monkeypatch):
    real = ci.load_stack_config

    def with_expiry(stack):
        config = real(stack)
        if stack == "prod":
            config["kaito-aks:expiresOn"] = "2026-11-01"
        return config

    monkeypatch.setattr(ci, "load_stack_config", with_expiry)
    actions = ci.teardown_actions(ci.stack_names(), datetime.date(2026, 11, 22))
    assert {"stack": "prod", "action": "destroy"} in actions


def test_teardown_by_hand_for_one_stack(capsys):
    assert ci.main(["teardown", "--stack", "prod", "--action", "destroy"]) == 0
    assert capsys.readouterr().out.strip() == 'matrix=[{"stack": "prod", "action": "destroy"}]'
    assert ci.main(["teardown", "--stack", "nope", "--action", "pause"]) == 2


def test_cost_comment_carries_the_plans_figures(capsys):
    assert ci.main(["cost-comment", "--stack", "staging"]) == 0
    comment = capsys.readouterr().out
    assert comment.startswith(ci.COMMENT_MARKER)
    assert "1 × `Standard_NV36ads_A10_v5` (1 GPU)" in comment
    assert "**$3.392/h, $2,476.16/month**" in comment
    assert "not a preview" in comment


def test_every_environment_is_a_stack_file_of_known_settings():
    from stacks.settings import DEFAULTS, UNTYPED_KEYS

    assert ci.stack_names() == STACKS
    for stack in STACKS:
        config = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
        assert config["kaito-aks:environment"] == stack
        project_keys = {key.split(":", 1)[1] for key in config if key.startswith("kaito-aks:")}
        assert project_keys <= {*DEFAULTS, *UNTYPED_KEYS}, project_keys - {*DEFAULTS, *UNTYPED_KEYS}
