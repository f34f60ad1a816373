"""The GitHub workflows: valid, hardened, wired to the program's helpers; and those helpers."""

from __future__ import annotations

import datetime
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from scripts import ci
from scripts.plan import build_plan
from tests import background
from tests.background_commands import ACTIONS, MEASUREMENT_ANSWERS, WORKFLOWS, measurement_step

ROOT = Path(__file__).resolve().parent.parent
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


def github_schema_check(kind: str) -> tuple[str, str]:
    """check-jsonschema's exit code and output for the workflows or the composite actions against GitHub's schema."""
    finished, folder = background.result("github-schemas")
    assert finished.returncode == 0, finished.stderr
    return (folder / f"{kind}.rc").read_text().strip(), (folder / f"{kind}.out").read_text()


@pytest.mark.background("github-schemas")
def test_workflows_match_githubs_schema():
    # check-jsonschema --builtin-schema vendor.github-workflows <every workflow>
    code, output = github_schema_check("workflows")
    assert code == "0", output


@pytest.mark.parametrize("path", WORKFLOWS + ACTIONS, ids=lambda p: p.parent.name + "/" + p.name)
def test_every_action_is_pinned_to_the_release_commit(path):
    document = yaml.safe_load(path.read_text())
    found = list(steps(document)) if "jobs" in document else document["runs"]["steps"]
    for step in found:
        if step.get("uses", "").startswith("$/"):
            # This repository's own action, at the workflow's own commit.
            assert (ROOT / step["uses"][2:] / "action.yml").is_file(), step["uses"]
        elif "uses" in step:
            action, ref = step["uses"].split("@")
            assert PINNED[action] == ref.split()[0], step["uses"]


@pytest.mark.background("github-schemas")
def test_the_composite_action_matches_githubs_schema():
    # check-jsonschema --builtin-schema vendor.github-actions <every composite action>
    code, output = github_schema_check("actions")
    assert code == "0", output


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


def test_pr_preview_plans_offline_then_compares_with_the_deployed_state_per_stack():
    workflow = load("preview.yml")
    assert set(workflow[True]) == {"pull_request"}  # PyYAML reads the key `on` as True
    compare = workflow["jobs"]["compare"]
    assert compare["needs"] == "plan"
    assert compare["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.plan.outputs.stacks) }}"
    assert "head.repo.full_name == github.repository" in compare["if"]  # forks stop at the offline plan
    plan_job = workflow["jobs"]["plan"]
    assert plan_job["permissions"] == {"contents": "read"}
    assert any("scripts.plan" in step.get("run", "") for step in plan_job["steps"])
    assert workflow["concurrency"]["cancel-in-progress"] is True  # a new push replaces the old comparison


def test_deploy_goes_dev_then_staging_then_prod_in_their_environments():
    deploy = load("deploy.yml")
    job = deploy["jobs"]["up"]
    assert job["strategy"]["matrix"]["stack"] == ["dev", "staging", "prod"]
    assert job["strategy"]["max-parallel"] == 1 and job["strategy"]["fail-fast"] is True
    assert job["environment"] == "${{ matrix.stack }}"
    assert job["concurrency"] == {"group": "pulumi-${{ matrix.stack }}", "cancel-in-progress": False}
    (pulumi,) = [s for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions")]
    # `up` on a merge; a real `pulumi preview`, in the environment, by hand.
    assert pulumi["with"]["command"] == "${{ inputs.preview-only && 'preview' || 'up' }}"
    assert deploy[True]["workflow_dispatch"]["inputs"]["preview-only"]["type"] == "boolean"


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


# --- the pull request's comparison with what is deployed ---------------------------------------------


class FakeBlobStore:
    """`az storage blob download` over a dict of blob name -> bytes, recording each call."""

    def __init__(self, blobs: dict[str, bytes], failure: str | None = None) -> None:
        self.blobs, self.failure, self.calls = blobs, failure, []

    def __call__(self, command: list[str], capture_output: bool, text: bool):
        self.calls.append(command)
        name = command[command.index("--name") + 1]
        if self.failure:
            return subprocess.CompletedProcess(command, 1, "", self.failure)
        if name not in self.blobs:
            return subprocess.CompletedProcess(command, 3, "", "ERROR: The specified blob does not exist.\n"
                                               "ErrorCode:BlobNotFound")
        Path(command[command.index("--file") + 1]).write_bytes(self.blobs[name])
        return subprocess.CompletedProcess(command, 0, "", "")


AZBLOB = {"PULUMI_BACKEND_URL": "azblob://pulumi-state", "AZURE_STORAGE_ACCOUNT": "kaitoaksstate1234abcd"}


def test_the_state_is_read_with_the_sign_in_and_no_key(tmp_path):
    store = FakeBlobStore({".pulumi/stacks/kaito-aks/dev.json.gz": b"{}"})
    assert ci.fetch_state("dev", tmp_path / "s", AZBLOB, store) == ".pulumi/stacks/kaito-aks/dev.json.gz"
    first = store.calls[0]
    assert first[:3] == ["az", "storage", "blob"] and "--auth-mode" in first
    assert first[first.index("--auth-mode") + 1] == "login" and "--account-key" not in first
    assert first[first.index("--container-name") + 1] == "pulumi-state"
    assert [c[c.index("--name") + 1] for c in store.calls] == [
        ".pulumi/stacks/kaito-aks/dev.json", ".pulumi/stacks/kaito-aks/dev.json.gz"]
    named = {"PULUMI_BACKEND_URL": "azblob://state?storage_account=other"}
    ci.fetch_state("dev", tmp_path / "s", named, store)
    assert store.calls[-1][store.calls[-1].index("--account-name") + 1] == "other"


def test_no_state_outside_azblob_and_a_refusal_is_reported(tmp_path):
    assert ci.fetch_state("dev", tmp_path / "s", {"PULUMI_BACKEND_URL": "https://api.pulumi.com"}) is None
    assert ci.fetch_state("dev", tmp_path / "s", AZBLOB, FakeBlobStore({})) is None  # not deployed yet
    refused = FakeBlobStore({}, failure="ERROR: AuthorizationPermissionMismatch")
    with pytest.raises(ci.StackFileError, match="AuthorizationPermissionMismatch"):
        ci.fetch_state("dev", tmp_path / "s", AZBLOB, refused)


def test_the_pr_comment_lists_what_changes_in_the_deployed_stack_and_the_live_quota(tmp_path, monkeypatch):
    from scripts.offline import run_program, state_export
    from tests.harness import stack_config

    deployed = run_program({**stack_config("dev"), "kaito-aks:skuTier": "Standard"}, stack="dev", preview=True)
    store = FakeBlobStore({".pulumi/stacks/kaito-aks/dev.json": json.dumps(state_export(deployed)).encode()})

    def preflight(argv: list[str]) -> int:
        print(f"preflight for stack {argv[0]}: OK")
        return 0

    comment = ci.pr_comment("dev", "HEAD", tmp_path, AZBLOB, store, preflight)
    assert comment.startswith(f"{ci.COMMENT_MARKER} dev\n")
    assert "#### Compared with what is deployed (`.pulumi/stacks/kaito-aks/dev.json`)" in comment
    assert "```diff\n~ update  azure-native:containerservice:ManagedCluster cluster-aks: sku.tier\n```" in comment
    assert "preflight: ready\npreflight for stack dev: OK" in comment
    nothing = ci.pr_comment("dev", "HEAD", tmp_path, AZBLOB, FakeBlobStore({}), preflight)
    assert "compared with the base branch's stack file only" in nothing


def test_a_preflight_that_cannot_ask_azure_leaves_a_line_not_a_failed_job():
    def throttled(argv):
        raise RuntimeError("HttpResponseError: (TooManyRequests) try later")

    assert ci.preflight_lines("dev", throttled) == [
        "preflight: not checked", "RuntimeError: HttpResponseError: (TooManyRequests) try later"]


@pytest.mark.background("measurement-summaries")
@pytest.mark.parametrize("answer", MEASUREMENT_ANSWERS)
def test_the_deploy_job_summary_shows_the_measured_throughput_and_cost(answer):
    from scripts.offline import RECORDED_MEASUREMENT
    from stacks.compose import with_cost_per_million_tokens

    step = measurement_step()
    assert step["if"] == "${{ !inputs.preview-only }}"
    measured = with_cost_per_million_tokens(json.loads(RECORDED_MEASUREMENT), 3.865)
    # The step for stack prod, with a pulumi that answers like `pulumi stack output smokeTestMeasurement --json`
    # (the measurement above), or fails (no such output): tests/background_commands.py measurement_summaries.
    finished, folder = background.result("measurement-summaries")
    assert finished.returncode == 0, finished.stderr
    assert (folder / answer / "rc").read_text().strip() == "0", (folder / answer / "out").read_text()
    text = (folder / answer / "summary.md").read_text()
    assert text.startswith("### prod: measured throughput and cost")
    if answer == "recorded":
        assert "| Output tokens per second | 65.72 (512 tokens in 7.79 s, counted from stream chunks) |" in text
        assert "| Time to first token | p50 2.377 s, max 5.186 s |" in text
        cost = measured["costPerMillionOutputTokensUsd"]
        assert f"| Cost per million output tokens | ${cost:,.2f} at $3.865/h" in text
    else:
        assert "No measurement: the stack is paused, or kaito-aks:measureStreams is 0." in text
