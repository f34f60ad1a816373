"""Who may do what from GitHub: the two CI identities scripts/setup-azure makes (run against a fake Azure
CLI), and the workflows that use them (read as GitHub would, and by zizmor's auditor persona)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from components.identity import BUILT_IN_ROLES
from tests import background
from tests.background_commands import OLD_APP, SECOND_RUN
from tests.background_commands import SETUP_REPO as REPO
from tests.harness import MONITORED, size_program

ROOT = Path(__file__).resolve().parent.parent
GITHUB = ROOT / ".github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.yml"))
SUBSCRIPTION = "8c1e5b9a-3f42-4d7e-9a61-2b7f0c4d9e13"


def workflow(name: str) -> dict:
    return yaml.safe_load((GITHUB / "workflows" / name).read_text())


class SetupRun:
    """scripts/setup-azure run twice against the fake Azure CLI (tests/background_commands.py): what it
    made, what it printed, every az call."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.first = self._finished("first")
        self.second = self._finished("second")
        self.third = self._finished("third")
        calls = self.calls()
        self.creates_first = len([call for call in calls[:calls.index([SECOND_RUN])] if "create" in call])
        self.creates_second = len([call for call in calls if "create" in call]) - self.creates_first

    def _finished(self, which: str) -> subprocess.CompletedProcess:
        return subprocess.CompletedProcess(which, int((self.folder / f"{which}.rc").read_text()),
                                           (self.folder / f"{which}.out").read_text(),
                                           (self.folder / f"{which}.err").read_text())

    def azure(self) -> dict:
        return json.loads((self.folder / "az.json").read_text())

    def calls(self) -> list[list[str]]:
        return [json.loads(line) for line in (self.folder / "az.log").read_text().splitlines()]

    def principal(self, suffix: str) -> str:
        azure = self.azure()
        return azure["principals"][azure["apps"][f"kaito-aks-github-contoso-kaito-aks-{suffix}"]]


@pytest.fixture(scope="module")
def setup() -> SetupRun:
    finished, folder = background.result("setup-azure")
    assert finished.returncode == 0, finished.stderr
    run = SetupRun(folder)
    assert run.first.returncode == 0, run.first.stderr
    assert run.second.returncode == 0, run.second.stderr
    assert run.third.returncode == 0, run.third.stderr
    return run


def program_assigned_roles() -> set[str]:
    """Every built-in role a stack assigns, across the install modes, access settings and Grafana."""
    runs = [size_program("cpu", **MONITORED), size_program("small", "upstream")]
    return {r.inputs["roleDefinitionId"].rsplit("/", 1)[-1] for run in runs
            for r in run.of_type("azure-native:authorization:RoleAssignment")}


@pytest.mark.background("setup-azure")
def test_pull_requests_and_deploys_get_separate_identities_with_separate_rights(setup):
    azure = setup.azure()
    preview_app = azure["apps"]["kaito-aks-github-contoso-kaito-aks-preview"]
    deploy_app = azure["apps"]["kaito-aks-github-contoso-kaito-aks-deploy"]
    subjects = {app: {c["subject"] for c in creds.values()} for app, creds in azure["credentials"].items()}
    assert subjects[preview_app] == {f"repo:{REPO}:pull_request"}
    assert subjects[deploy_app] == {f"repo:{REPO}:environment:{env}" for env in ("dev", "staging", "prod")}
    roles: dict[str, set] = {}
    for assignment in azure["assignments"]:
        roles.setdefault(assignment["principal"], set()).add((assignment["role"], assignment["scope"].split("/")[-1]))
    assert roles[setup.principal("preview")] == {("Reader", SUBSCRIPTION), ("Storage Blob Data Reader", "pulumi-state")}
    assert roles[setup.principal("deploy")] == {
        ("Contributor", SUBSCRIPTION), ("Role Based Access Control Administrator", SUBSCRIPTION),
        ("Storage Blob Data Contributor", "pulumi-state"), ("Key Vault Crypto User", "pulumi-secrets")}


@pytest.mark.background("setup-azure")
def test_the_deploy_identity_may_assign_exactly_the_roles_the_stacks_assign(setup):
    (delegation,) = [a for a in setup.azure()["assignments"] if a["role"] == "Role Based Access Control Administrator"]
    assert delegation["conditionVersion"] == "2.0"
    write, delete = delegation["condition"].split(") AND (")
    assert "ActionMatches{'Microsoft.Authorization/roleAssignments/write'}" in write
    assert "@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals" in write
    assert "ActionMatches{'Microsoft.Authorization/roleAssignments/delete'}" in delete
    assert "@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals" in delete
    guid = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    allowed = [set(re.findall(guid, part)) for part in (write, delete)]
    assert allowed[0] == allowed[1] == program_assigned_roles()
    privileged = {BUILT_IN_ROLES["Contributor"], "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",  # Owner
                  "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", "f58310d9-a9f6-439a-9e8d-f62e7b41a168"}  # UAA, RBAC Admin
    assert not allowed[0] & privileged


@pytest.mark.background("setup-azure")
def test_running_it_again_creates_nothing_and_it_prints_what_to_set_where(setup):
    # Only the idempotent `az group create` and `az storage container create` run again (the third run
    # does the same, plus the one assignment whose condition went stale).
    assert setup.creates_second == 2 + 2 + 1
    out = setup.second.stdout
    azure = setup.azure()
    preview_app = azure["apps"]["kaito-aks-github-contoso-kaito-aks-preview"]
    deploy_app = azure["apps"]["kaito-aks-github-contoso-kaito-aks-deploy"]
    assert f"gh variable set AZURE_PREVIEW_CLIENT_ID --repo {REPO} --body {preview_app}" in out
    for env in ("dev", "staging", "prod"):
        assert f"gh variable set AZURE_CLIENT_ID --env {env} --repo {REPO} --body {deploy_app}" in out
    # Secrets only per environment, never for the whole repository (pull requests could read those).
    assert not re.search(r"gh secret set \S+ --repo", out)
    assert "azurekeyvault://" in out and "PULUMI_CONFIG_PASSPHRASE" not in out.split("Per environment")[1].split(
        "Then in")[0]


@pytest.mark.background("setup-azure")
def test_an_app_from_the_single_identity_setup_is_named_for_deletion(setup):
    assert f"az ad app delete --id {OLD_APP}" in setup.first.stderr
    assert "it lets pull requests deploy" in setup.first.stderr
    assert OLD_APP not in json.dumps(setup.azure()["assignments"])


@pytest.mark.background("setup-azure")
def test_only_the_deploy_identity_may_decrypt_with_the_key_vault_key(setup):
    crypto = [(a["principal"], a["role"], a["scope"]) for a in setup.azure()["assignments"]
              if a["role"].startswith("Key Vault")]
    assert (setup.principal("deploy"), "Key Vault Crypto User") in {(p, r) for p, r, _ in crypto}
    assert all(principal != setup.principal("preview") for principal, _, _ in crypto)
    assert all(scope.endswith("/keys/pulumi-secrets") for p, r, scope in crypto if r == "Key Vault Crypto User")


# --- the workflows ---------------------------------------------------------------------------------


def test_no_pull_request_job_can_read_a_secret_or_sign_in_as_the_deploy_identity():
    preview = workflow("preview.yml")
    text = (GITHUB / "workflows" / "preview.yml").read_text()
    assert "secrets." not in text
    assert "vars.AZURE_CLIENT_ID" not in text  # the deploy identity's ID lives in the environments
    for job in preview["jobs"].values():
        assert "environment" not in job
        assert not any(step.get("uses", "").startswith("pulumi/actions") for step in job.get("steps", []))
    compare = preview["jobs"]["compare"]
    (login,) = [s for s in compare["steps"] if s.get("uses", "").startswith("azure/login")]
    assert login["with"]["client-id"] == "${{ vars.AZURE_PREVIEW_CLIENT_ID }}"
    assert "client-secret" not in login["with"] and "creds" not in login["with"]
    assert compare["permissions"] == {"contents": "read", "id-token": "write", "pull-requests": "write"}
    assert any("scripts.ci pr-comment" in step.get("run", "") for step in compare["steps"])


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_job_that_sees_a_secret_or_deploys_runs_in_an_environment(path):
    for name, job in yaml.safe_load(path.read_text())["jobs"].items():
        text = yaml.safe_dump(job)
        deploys = "deploy-tools" in text or "vars.AZURE_CLIENT_ID" in text
        if "secrets." in text or deploys:
            assert job.get("environment") == "${{ matrix.stack }}", f"{path.name}:{name}"
            assert job["permissions"]["id-token"] == "write"


def test_deploy_jobs_sign_in_with_a_token_kept_fresh_for_kubelogin():
    action = yaml.safe_load((GITHUB / "actions" / "deploy-tools" / "action.yml").read_text())
    steps = {step.get("name", step.get("uses", "")): step for step in action["runs"]["steps"]}
    install = steps["Install kubelogin (the cluster takes Entra ID sign-ins only)"]["run"]
    assert "--kubelogin-version 0.2.19" in install
    refresh = steps["Keep a fresh federated token for kubelogin and the Azure SDKs"]["run"]
    assert "AAD_LOGIN_METHOD=workloadidentity" in refresh
    assert "audience=api://AzureADTokenExchange" in refresh
    assert "sleep 240" in refresh and "AZURE_FEDERATED_TOKEN_FILE=" in refresh
    for name in ("deploy.yml", "teardown.yml"):
        jobs = workflow(name)["jobs"]
        users = [job for job in jobs.values() if any(step.get("uses") == "$/.github/actions/deploy-tools"
                                                    for step in job.get("steps", []))]
        assert users, name


@pytest.mark.background("zizmor")
def test_zizmors_auditor_persona_finds_nothing():
    # Nothing is accepted: a finding here is fixed, or accepted in .github/zizmor.yml with its reason
    # (README, Security).
    result, _ = background.result("zizmor")  # zizmor --offline --persona auditor .github
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr


@pytest.mark.background("setup-azure")
def test_a_stale_condition_on_the_delegation_is_replaced(setup):
    assert "Role Based Access Control Administrator on /subscriptions/" in setup.third.stdout
    assert "its condition changed, assigning it again" in setup.third.stdout
    (delegation,) = [a for a in setup.azure()["assignments"] if a["role"] == "Role Based Access Control Administrator"]
    assert "((old))" not in delegation["condition"] and "GuidEquals" in delegation["condition"]
