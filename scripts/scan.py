"""Scan what the program renders for each stack file with checkov: the Kubernetes objects as manifests, the
Azure resources as an ARM template (checkov has no Pulumi framework; the template carries each resource's
ARM properties as the program sets them).

    ./scripts/scan [stack ...]       every stack file by default; exit 1 on a finding not in SKIPPED

Findings kaito-aks accepts are in SKIPPED (every stack) and ACCEPTED_WHERE (stacks with a given setting), each
with its reason; tests/test_scanners.py fails on any other finding, and on a skip that no longer matches anything.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from scripts.offline import ProgramRun, run_program
from scripts.plan import secret_keys_of
from scripts.stack_files import ROOT, load_stack_config, stack_names
from stacks.config import declarations
from stacks.settings import Settings

CHECKOV = ROOT / ".venv-scan" / "bin" / "checkov"

# Accepted everywhere, with why. Keep this short: fix instead where the platform allows it.
SKIPPED: dict[str, str] = {
    "CKV_AZURE_6": "API server authorized IP ranges are a setting (kaito-aks:apiServerAuthorizedIpRanges), empty "
                   "by default: GitHub-hosted runners have no fixed addresses, and every request must carry an "
                   "Entra ID token (local accounts are disabled, CKV_AZURE_141 passes)",
    "CKV_AZURE_8": "the Kubernetes Dashboard add-on cannot be installed on current AKS versions (deprecated, gone "
                   "from Kubernetes 1.19 on); the check passes only when a cluster disables it explicitly, and "
                   "kaito-aks sends no settings for add-ons that do not exist",
    "CKV_AZURE_172": "kaito-aks does not use the Key Vault Secrets Store CSI add-on (the only secret, the Hugging "
                     "Face token, is a Pulumi secret written to one Kubernetes Secret)",
    "CKV_AZURE_226": "ephemeral OS disks need a VM size with a cache or temp disk at least as large as the OS disk; "
                     "the default system pool size, Standard_D4s_v5, has no temp disk",
}
# Accepted where a setting has a given value, with why: (setting key, value, reason). Keyed on settings, not
# stack names, so a stack file copied for a new environment is judged by what it sets.
ACCEPTED_WHERE: dict[str, tuple[str, Any, str]] = {
    "CKV_AZURE_35": ("kaito-aks:nodeProvisioner", "gpu-provisioner",
                     "the model weights' account admits only the nodes' subnet where the stack owns it (Karpenter); "
                     "on the gpu-provisioner's AKS-managed network it takes any network, with Entra ID sign-in only "
                     "(no account keys, no anonymous access)"),
    "CKV_AZURE_36": ("kaito-aks:nodeProvisioner", "gpu-provisioner",
                     "trusted Azure services are let through a storage firewall; the weights' account has none on the "
                     "gpu-provisioner's network (CKV_AZURE_35), and where it has one (Karpenter) they are"),
    "CKV_AZURE_206": ("kaito-aks:modelWeights", "blob",
                      "the weights' account is locally redundant: it holds copies of Hugging Face models, downloaded "
                      "again by KAITO's mirror if lost"),

    "CKV_AZURE_227": ("kaito-aks:encryptionAtHost", False,
                      "encryption at host needs a per-subscription feature registration, so it is a setting, off "
                      "by default so that a new stack deploys with one command; prod turns it on"),
}

# Pulumi type token -> ARM resource type, for the resources the program creates.
ARM_TYPES = {
    "azure-native:resources:ResourceGroup": "Microsoft.Resources/resourceGroups",
    "azure-native:containerservice:ManagedCluster": "Microsoft.ContainerService/managedClusters",
    "azure-native:containerservice:MaintenanceConfiguration":
        "Microsoft.ContainerService/managedClusters/maintenanceConfigurations",
    "azure-native:network:VirtualNetwork": "Microsoft.Network/virtualNetworks",
    "azure-native:network:Subnet": "Microsoft.Network/virtualNetworks/subnets",
    "azure-native:managedidentity:UserAssignedIdentity": "Microsoft.ManagedIdentity/userAssignedIdentities",
    "azure-native:managedidentity:FederatedIdentityCredential":
        "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
    "azure-native:authorization:RoleAssignment": "Microsoft.Authorization/roleAssignments",
    "azure-native:authorization:RoleDefinition": "Microsoft.Authorization/roleDefinitions",
    "azure-native:consumption:Budget": "Microsoft.Consumption/budgets",
    "azure-native:storage:StorageAccount": "Microsoft.Storage/storageAccounts",
    "azure-native:storage:BlobContainer": "Microsoft.Storage/storageAccounts/blobServices/containers",
}
# Inputs that are ARM's envelope rather than `properties`, and inputs that only name the resource's parents.
ENVELOPE = {"location", "sku", "identity", "tags", "kind"}
ADDRESSING = {"resourceGroupName", "resourceName", "virtualNetworkName", "subnetName", "configName", "scope",
              "roleAssignmentName", "roleDefinitionId", "federatedIdentityCredentialResourceName", "budgetName"}
# Properties pulumi-azure-native names otherwise than ARM does (a storage account's firewall: ARM's networkAcls,
# what checkov reads).
ARM_NAMES = {"networkRuleSet": "networkAcls"}
# The input holding a resource's ARM name, where checkov reads the name.
ARM_NAME_INPUTS = {"azure-native:storage:StorageAccount": "accountName"}
WORKSPACE = "kubernetes:kaito.sh/v1beta1:Workspace"


def stack_run(stack: str, root: Path | None = None) -> ProgramRun:
    config = load_stack_config(stack, root)
    return run_program(config, stack=stack, secret_keys=secret_keys_of(config), preview=True)


def kubernetes_objects(run: ProgramRun) -> list[dict[str, Any]]:
    """Every Kubernetes object the program creates, as its manifest; a CPU model's pod template as the Pod KAITO
    makes from it (KAITO copies the template into its own workload, adding only labels and scheduling)."""
    objects = []
    for resource in run.resources:
        if not resource.type.startswith("kubernetes:") or resource.type.startswith("kubernetes:helm.sh"):
            continue
        manifest = {key: value for key, value in resource.inputs.items() if key != "__defaults"}
        if resource.type == WORKSPACE and "template" in manifest.get("inference", {}):
            template = manifest["inference"]["template"]
            objects.append({"apiVersion": "v1", "kind": "Pod",
                            "metadata": {**template.get("metadata", {}), "name": manifest["metadata"]["name"],
                                         "namespace": manifest["metadata"]["namespace"]},
                            "spec": template["spec"]})
        objects.append(manifest)
    return objects


def arm_template(run: ProgramRun) -> dict[str, Any]:
    """The Azure resources as an ARM deployment template (API version of pulumi-azure-native's default)."""
    resources = []
    for resource in run.resources:
        if resource.type not in ARM_TYPES:
            continue
        inputs = {key: value for key, value in resource.inputs.items() if key != "__defaults"}
        resources.append({
            "type": ARM_TYPES[resource.type],
            "apiVersion": "2025-09-01",
            # The name ARM gets where the program sets it (checkov checks some, e.g. a storage account's).
            "name": inputs.get(ARM_NAME_INPUTS.get(resource.type, ""), resource.name),
            **{key: inputs[key] for key in ENVELOPE if key in inputs},
            "properties": {ARM_NAMES.get(key, key): value for key, value in inputs.items()
                           if key not in ENVELOPE | ADDRESSING},
        })
    return {"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
            "contentVersion": "1.0.0.0", "resources": resources}


def render(stack: str, folder: Path, run: ProgramRun | None = None) -> Path:
    """<folder>/<stack>/kubernetes.yaml and azure.json."""
    run = run or stack_run(stack)
    target = folder / stack
    target.mkdir(parents=True, exist_ok=True)
    (target / "kubernetes.yaml").write_text(yaml.safe_dump_all(kubernetes_objects(run), sort_keys=False))
    (target / "azure.json").write_text(json.dumps(arm_template(run), indent=1))
    return target


def checkov_command(target: Path) -> list[str]:
    return [str(CHECKOV), "--directory", str(target), "--framework", "kubernetes", "arm", "--skip-download",
            "--compact", "--quiet", "--output", "json"]


def failures(checkov_json: str) -> list[dict[str, str]]:
    """Every failed check in checkov's JSON output (one report, or a list of them)."""
    document = json.loads(checkov_json) if checkov_json.strip() else []
    reports = document if isinstance(document, list) else [document]
    found = []
    for report in reports:
        for check in (report.get("results") or {}).get("failed_checks") or []:
            found.append({"framework": report.get("check_type", ""), "id": check["check_id"],
                          "name": check.get("check_name", ""), "resource": check.get("resource", ""),
                          "file": check.get("file_path", "")})
    return found


def accepted_for(stack: str, root: Path | None = None) -> dict[str, str]:
    """The findings accepted for a stack file: SKIPPED, and ACCEPTED_WHERE's whose setting it has."""
    from scripts.plan import stack_settings

    _, settings = stack_settings(stack, root)
    return accepted_for_settings(settings)


def accepted_for_settings(settings: Settings) -> dict[str, str]:
    accepted = dict(SKIPPED)
    for check, (key, value, reason) in ACCEPTED_WHERE.items():
        field = next(name for name, item in declarations() if item.full_key == key)
        if getattr(settings.config, field) == value:
            accepted[check] = reason
    return accepted


def unaccepted(stack: str, found: list[dict[str, str]], settings: Settings | None = None) -> list[dict[str, str]]:
    accepted = accepted_for(stack) if settings is None else accepted_for_settings(settings)
    return [item for item in found if item["id"] not in accepted]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./scripts/scan", description=__doc__.splitlines()[0])
    parser.add_argument("stacks", nargs="*", help="stack files to scan (default: all)")
    args = parser.parse_args(argv)
    import tempfile

    worst = 0
    with tempfile.TemporaryDirectory() as folder:
        for stack in args.stacks or stack_names():
            target = render(stack, Path(folder))
            result = subprocess.run(checkov_command(target), capture_output=True, text=True)
            found = failures(result.stdout)
            bad = unaccepted(stack, found)
            print(f"scan: {stack}: {len(found)} findings, {len(found) - len(bad)} accepted (scripts/scan.py)")
            for item in bad:
                print(f"  {item['id']} {item['name']}: {item['resource']} ({item['framework']})")
            worst = max(worst, 1 if bad else 0)
    return worst


if __name__ == "__main__":
    sys.exit(main())
