"""checkov over what the program renders for every stack file (scripts/scan.py): the Kubernetes objects as
manifests, the Azure resources as an ARM template. A finding that is neither fixed nor on the committed skip
list (with its reason) fails here, and so does a skip that no longer matches a finding."""

from __future__ import annotations

import json

import pytest
import yaml

from scripts import scan
from scripts.stack_files import stack_names
from tests import background
from tests.harness import SCAN_EXAMPLES, settings_of

STACKS = stack_names()
# libyaml's safe loader where PyYAML has it: the same documents as yaml.safe_load_all, read several times faster.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Settings of what is scanned: each stack file's (read by scan.accepted_for) and each example's.
EXAMPLES = {example: settings_of(config) for example, config in SCAN_EXAMPLES.items()}


@pytest.fixture(scope="module")
def checkov() -> dict:
    finished, folder = background.result("checkov")
    assert finished.returncode in (0, 1), finished.stderr[-2000:]  # 1: some check failed
    reports = json.loads(finished.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    by_stack: dict[str, list[dict]] = {stack: [] for stack in [*STACKS, *EXAMPLES]}
    for finding in scan.failures(finished.stdout):
        by_stack[finding["file"].strip("/").split("/")[0]].append(finding)
    return {"summaries": {r["check_type"]: r["summary"] for r in reports}, "findings": by_stack, "folder": folder}


@pytest.mark.background("checkov")
def test_checkov_read_every_object_of_every_stack(checkov):
    summaries = checkov["summaries"]
    assert set(summaries) == {"kubernetes", "arm"}
    for framework in ("kubernetes", "arm"):
        assert summaries[framework]["parsing_errors"] == 0
        assert summaries[framework]["resource_count"] > 0
    rendered = sum(len([d for d in yaml.load_all((checkov["folder"] / s / "kubernetes.yaml").read_text(), SAFE_LOADER)
                        if d]) for s in STACKS)
    # checkov counts each object, and again the pod template inside a Deployment or Job.
    assert summaries["kubernetes"]["resource_count"] >= rendered


@pytest.mark.background("checkov")
@pytest.mark.parametrize("stack", [*STACKS, *EXAMPLES])
def test_every_finding_is_fixed_or_accepted_with_a_reason(checkov, stack):
    bad = scan.unaccepted(stack, checkov["findings"][stack], EXAMPLES.get(stack))
    assert bad == [], "\n".join(f"{b['id']} {b['name']}: {b['resource']}" for b in bad)


@pytest.mark.background("checkov")
def test_no_kubernetes_finding_is_accepted_at_all(checkov):
    assert [f for findings in checkov["findings"].values() for f in findings if f["framework"] == "kubernetes"] == []


@pytest.mark.background("checkov")
def test_every_accepted_finding_still_occurs(checkov):
    """A skip for a finding that went away would hide its return: remove it."""
    seen = {stack: {f["id"] for f in findings} for stack, findings in checkov["findings"].items()}
    for check in scan.SKIPPED:
        assert any(check in ids for ids in seen.values()), f"{check} is skipped but no stack has it"
    for check in scan.ACCEPTED_WHERE:
        where = [*(stack for stack in STACKS if check in scan.accepted_for(stack)),
                 *(example for example, settings in EXAMPLES.items() if check in scan.accepted_for_settings(settings))]
        assert where and all(check in seen[stack] for stack in where), f"{check} is accepted where it no longer occurs"


@pytest.mark.background("checkov")
def test_prod_passes_the_checks_it_has_the_settings_for(checkov):
    prod = {f["id"] for f in checkov["findings"]["prod"]}
    for check in ("CKV_AZURE_227", "CKV_AZURE_141", "CKV_AZURE_5", "CKV_AZURE_7", "CKV_AZURE_171", "CKV_AZURE_168"):
        assert check not in prod
    assert set(scan.accepted_for("prod")) == set(scan.SKIPPED)


def test_every_skip_says_why():
    reasons = [*scan.SKIPPED.values(), *(reason for _, _, reason in scan.ACCEPTED_WHERE.values())]
    assert all(len(reason) > 40 for reason in reasons)


def test_the_template_carries_the_clusters_arm_properties():
    template = scan.arm_template(scan.stack_run("prod"))
    (cluster,) = [r for r in template["resources"] if r["type"] == "Microsoft.ContainerService/managedClusters"]
    properties = cluster["properties"]
    assert properties["disableLocalAccounts"] is True and properties["enableRBAC"] is True
    assert properties["aadProfile"] == {"managed": True, "enableAzureRBAC": True}
    assert properties["agentPoolProfiles"][0]["enableEncryptionAtHost"] is True
    assert cluster["sku"] == {"name": "Base", "tier": "Standard"} and "resourceName" not in properties
