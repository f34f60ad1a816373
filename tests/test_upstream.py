"""kaito-aks:kaitoInstall=upstream: KAITO 0.12 from Helm, newer models, KAITO's node counts, and the
gpu-provisioner kept for stacks created before Karpenter (Karpenter itself: tests/test_karpenter.py)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from components.identity import BUILT_IN_ROLES
from components.kaito_install import GPU_PROVISIONER_CHART, KAITO_CHART_VERSION, KAITO_HELM_REPO
from scripts import offline
from stacks.profiles import UPSTREAM_PROFILES
from stacks.settings import ConfigError
from tests.harness import (
    HF_TOKEN,
    ProgramRun,
    program,
    run_failing_program,
    settings_of,
    size_config,
    size_program,
)

SCHEMAS = Path(__file__).parent / "schemas"
SCHEMA_V012 = json.loads((SCHEMAS / "workspace-v1beta1-v0.12.0.strict.schema.json").read_text())
SCHEMA_V060 = json.loads((SCHEMAS / "workspace-v1beta1-v0.6.0.strict.schema.json").read_text())
CLUSTER = "azure-native:containerservice:ManagedCluster"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
CREDENTIAL = "azure-native:managedidentity:FederatedIdentityCredential"
ROLE = "azure-native:authorization:RoleAssignment"
RELEASE = "kubernetes:helm.sh/v3:Release"
WORKSPACE = "kubernetes:kaito.sh/v1beta1:Workspace"
EXPECTED = {size: (profile.model, profile.instance_types[0]) for size, profile in UPSTREAM_PROFILES.items()}


def upstream(model_size: str, **overrides) -> ProgramRun:
    return size_program(model_size, "upstream", **overrides)


def legacy(model_size: str, **overrides) -> ProgramRun:
    """An upstream stack that keeps the gpu-provisioner (kaito-aks:nodeProvisioner gpu-provisioner)."""
    return upstream(model_size, nodeProvisioner="gpu-provisioner", **overrides)


def manifest(run: ProgramRun) -> dict:
    return {k: v for k, v in run.one(WORKSPACE).inputs.items() if k != "__defaults"}


def release(run: ProgramRun, name: str):
    return next(r for r in run.of_type(RELEASE) if r.inputs["name"] == name)


@pytest.mark.parametrize("model_size", EXPECTED)
def test_upstream_keeps_oidc_and_workload_identity_but_turns_the_addon_off(model_size):
    cluster = upstream(model_size).one(CLUSTER).inputs
    assert cluster["aiToolchainOperatorProfile"] == {"enabled": False}
    assert cluster["oidcIssuerProfile"] == {"enabled": True}
    assert cluster["securityProfile"] == {"workloadIdentity": {"enabled": True}}


@pytest.mark.parametrize("model_size", EXPECTED)
def test_addon_mode_installs_nothing_with_helm_and_creates_no_identity(model_size):
    run = size_program(model_size)
    assert run.one(CLUSTER).inputs["aiToolchainOperatorProfile"] == {"enabled": True}
    assert run.of_type(RELEASE) == [] and run.of_type(IDENTITY) == []
    # The only role assignment is the deployer's, on the cluster (test_cluster_access).
    assert [role.name for role in run.of_type(ROLE)] == ["cluster-deployer-rbac-cluster-admin"]


@pytest.mark.parametrize("model_size", EXPECTED)
def test_upstream_workspaces_serve_the_newer_defaults_and_match_kaito_0_12s_schema(model_size):
    run = upstream(model_size)
    model, size = EXPECTED[model_size]
    document = manifest(run)
    jsonschema.validate(document, SCHEMA_V012)
    assert document["resource"]["instanceType"] == size
    assert run.outputs["model"] == model and run.outputs["kaitoInstall"] == "upstream"
    if not UPSTREAM_PROFILES[model_size].cpu_only:
        assert document["inference"]["preset"] == {"name": model}  # not gated: no modelAccessSecret


def test_the_gpu_provisioners_credential_trusts_the_clusters_issuer_for_its_account():
    run = legacy("small")
    identity = run.one(IDENTITY)
    credential = run.one(CREDENTIAL)
    assert identity.inputs["resourceName"] == "id-aks-kaito-aks-test-gpu-provisioner"
    assert identity.inputs["resourceGroupName"] == "rg-kaito-aks-test"
    assert credential.inputs["issuer"] == run.outputs["oidcIssuerUrl"]
    assert credential.inputs["subject"] == "system:serviceaccount:gpu-provisioner:gpu-provisioner"
    assert credential.inputs["audiences"] == ["api://AzureADTokenExchange"]
    assert credential.inputs["resourceName"] == identity.inputs["resourceName"]
    assert run.one(CLUSTER).urn in credential.dependencies


def test_the_gpu_provisioner_may_manage_agent_pools_of_its_cluster_and_nothing_else():
    run = legacy("small")
    role = run.named(ROLE, "kaito-gpu-provisioner-cluster-agent-pool-operator")
    definition = run.one("azure-native:authorization:RoleDefinition").inputs
    cluster_id = run.one("pulumi:providers:kubernetes").inputs["clusterIdentifier"]
    subscription = cluster_id.split("/")[2]
    group_id = cluster_id.split("/providers/")[0]
    # Exactly the AgentPools calls Azure/gpu-provisioner makes; nothing that lists credentials or changes
    # the cluster itself (Contributor did both).
    assert definition["permissions"] == [{"actions": [
        "Microsoft.ContainerService/managedClusters/agentPools/read",
        "Microsoft.ContainerService/managedClusters/agentPools/write",
        "Microsoft.ContainerService/managedClusters/agentPools/delete",
    ]}]
    assert definition["roleType"] == "CustomRole"
    assert definition["assignableScopes"] == [group_id]
    assert definition["scope"] == f"/subscriptions/{subscription}"
    assert role.inputs["scope"] == cluster_id
    assert role.inputs["roleDefinitionId"] == (
        f"/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/"
        f"{definition['roleDefinitionId']}"
    )
    assert role.inputs["principalType"] == "ServicePrincipal"
    assert run.one(IDENTITY).urn in role.dependencies
    assert role.inputs["principalId"] == offline._uuid("principal", run.one(IDENTITY).inputs["resourceName"])
    assert not any(r.inputs["roleDefinitionId"].endswith(BUILT_IN_ROLES["Contributor"]) for r in run.of_type(ROLE))
    again = legacy("small")
    assert again.named(ROLE, role.name).inputs["roleAssignmentName"] == role.inputs["roleAssignmentName"]
    assert again.one("azure-native:authorization:RoleDefinition").inputs == definition


def test_role_names_differ_between_stacks_of_one_tenant():
    """Role assignment and custom role IDs are unique in the whole tenant: two stacks must not collide."""
    first = legacy("small")
    second = program(size_config("small", "upstream", nodeProvisioner="gpu-provisioner"), stack="other")
    for type_ in (ROLE, "azure-native:authorization:RoleDefinition"):
        names = {r.inputs.get("roleAssignmentName") or r.inputs["roleDefinitionId"] for r in first.of_type(type_)}
        others = {r.inputs.get("roleAssignmentName") or r.inputs["roleDefinitionId"] for r in second.of_type(type_)}
        assert names and others and not names & others


def test_the_gpu_provisioner_path_pins_kaito_0_12s_version_and_keeps_its_values():
    run = legacy("small")
    controller = release(run, "kaito-workspace")
    assert controller.inputs["chart"] == "workspace"
    assert controller.inputs["version"] == KAITO_CHART_VERSION == "0.12.0"
    assert controller.inputs["repositoryOpts"] == {"repo": KAITO_HELM_REPO}
    # The chart's default nodeProvisioner is the gpu-provisioner: its values stay as they were.
    assert controller.inputs["values"] == {"clusterName": "aks-kaito-aks-test"}
    provisioner = release(run, "gpu-provisioner")
    assert provisioner.inputs["chart"] == GPU_PROVISIONER_CHART
    # GPU_PROVISIONER_VERSION in kaito-project/kaito@v0.12.0:Makefile.
    assert GPU_PROVISIONER_CHART.endswith("gpu-provisioner-0.4.4.tgz")
    values = provisioner.inputs["values"]
    env = {item["name"]: item["value"] for item in values["controller"]["env"]}
    cluster_id = run.one("pulumi:providers:kubernetes").inputs["clusterIdentifier"]
    assert env == {
        "ARM_SUBSCRIPTION_ID": cluster_id.split("/")[2],
        "LOCATION": "eastus",
        "AZURE_CLUSTER_NAME": "aks-kaito-aks-test",
        "AZURE_NODE_RESOURCE_GROUP": "MC_rg-kaito-aks-test_aks-kaito-aks-test_eastus",
        "ARM_RESOURCE_GROUP": "rg-kaito-aks-test",
    }
    identity_name = run.one(IDENTITY).inputs["resourceName"]
    assert values["workloadIdentity"] == {
        "clientId": offline._uuid("client", identity_name),  # what Azure assigned the identity
        "tenantId": offline.TENANT,
    }
    assert run.outputs["gpuProvisionerClientId"] == values["workloadIdentity"]["clientId"]


def test_the_gpu_provisioner_starts_only_after_its_credential_and_role_exist():
    run = legacy("small")
    provisioner = release(run, "gpu-provisioner")
    role = run.named(ROLE, "kaito-gpu-provisioner-cluster-agent-pool-operator")
    for dependency in (run.one(CREDENTIAL), role, release(run, "kaito-workspace")):
        assert dependency.urn in provisioner.dependencies


@pytest.mark.parametrize("provisioner", ["karpenter", "gpu-provisioner"])
def test_the_workspace_waits_for_kaito_and_its_provisioner(provisioner):
    run = upstream("medium") if provisioner == "karpenter" else legacy("medium")  # karpenter is the default
    workspace = run.one(WORKSPACE)
    assert release(run, "kaito-workspace").urn in workspace.dependencies
    if provisioner == "karpenter":
        # KAITO's controller needs Karpenter's CRDs when it starts.
        assert release(run, "karpenter").urn in release(run, "kaito-workspace").dependencies
    else:
        assert release(run, "gpu-provisioner").urn in workspace.dependencies


def test_the_gpu_provisioner_path_keeps_the_cluster_and_its_urns_as_they_were():
    run = legacy("small")
    cluster = run.one(CLUSTER).inputs
    assert cluster["identity"] == {"type": "SystemAssigned"}
    assert "vnetSubnetID" not in cluster["agentPoolProfiles"][0]
    assert run.of_type("azure-native:network:VirtualNetwork") == []
    assert run.of_type("kaito-aks:karpenter:Karpenter") == []


def test_the_node_provisioner_is_an_upstream_setting():
    error, registered = run_failing_program(size_config("small", nodeProvisioner="gpu-provisioner"))
    assert "kaito-aks:nodeProvisioner 'gpu-provisioner' applies to kaito-aks:kaitoInstall upstream" in str(error)
    assert "pulumi config rm kaito-aks:nodeProvisioner" in str(error)
    assert registered == []


def test_a_gated_model_gets_its_token_and_an_open_one_does_not():
    gated = upstream("medium", model="google/gemma-3-27b-it", hfToken=HF_TOKEN)
    secret = gated.named("kubernetes:core/v1:Secret", "model-hf-token")
    options = manifest(gated)["inference"]["preset"]["presetOptions"]
    assert options == {"modelAccessSecret": secret.inputs["metadata"]["name"]}
    jsonschema.validate(manifest(gated), SCHEMA_V012)
    # Upstream large's model is open too: its run with a token is tests/test_program.py's preview, shared.
    open_model = program(size_config("large", "upstream", hfToken=HF_TOKEN), preview=True)
    assert [r.name for r in open_model.of_type("kubernetes:core/v1:Secret") if r.name == "model-hf-token"] == []


def test_any_hugging_face_id_with_an_explicit_size():
    run = upstream("small", model="Qwen/Qwen3-0.6B", instanceType="Standard_NV36ads_A10_v5")
    assert manifest(run)["inference"]["preset"] == {"name": "Qwen/Qwen3-0.6B"}


@pytest.mark.parametrize(
    ("config", "fragments"),
    [
        (size_config("medium", model="openai/gpt-oss-20b"),
         ["kaito-aks:model 'openai/gpt-oss-20b' is served by KAITO from its Helm charts (KAITO 0.12.0)",
          "kaitoInstall upstream"]),
        (size_config("small", kaitoInstall="upstream", instanceType="Standard_NC8as_T4_v3"),
         ["kaito-aks:instanceType 'Standard_NC8as_T4_v3'", "not a size KAITO 0.12.0 provisions",
          "Standard_NV36ads_A10_v5"]),
        (size_config("small", kaitoInstall="upstream", model="phi-4-mini-instruct"),
         ["'phi-4-mini-instruct' is a name of the AKS AI toolchain operator add-on", "Hugging Face repo ids",
          "microsoft/Phi-4-mini-instruct"]),
        (size_config("small", kaitoInstall="upstream", model="Qwen/Qwen3-0.6B"),
         ["'Qwen/Qwen3-0.6B' is not in kaito-aks's list", "Set kaito-aks:instanceType"]),
        (size_config("large", kaitoInstall="upstream", nodeCount=2),
         ["kaito-aks:nodeCount '2' is not used by KAITO 0.12.0", "pulumi config rm kaito-aks:nodeCount"]),
        (size_config("medium", kaitoInstall="upstream", model="meta-llama/Llama-3.3-70B-Instruct",
                     instanceType="Standard_NC96ads_A100_v4"),
         ["kaito-aks:hfToken is not set", "is gated on Hugging Face"]),
        (size_config("small", kaitoInstall="helm"), ["kaito-aks:kaitoInstall 'helm'", "addon", "upstream"]),
    ],
)
def test_bad_combinations_are_refused_before_any_resource(config, fragments):
    config.pop("kaito-aks:hfToken", None)
    error, registered = run_failing_program(config)
    assert isinstance(error, ConfigError), repr(error)
    for fragment in fragments:
        assert fragment in str(error), str(error)
    assert registered == []


def test_addon_workspaces_still_match_kaito_0_6_0s_schema_only():
    document = manifest(size_program("small"))
    jsonschema.validate(document, SCHEMA_V060)


# KAITO 0.12's node estimator, worked by hand from kaito-project/kaito@v0.12.0:pkg/workspace/estimator/
# nodesestimator/estimator.go with the catalog's figures (model_catalog.yaml) and its SKU table
# (pkg/sku/azure_sku_handler.go), at the default 2048-token context.
ESTIMATES = [
    ("Qwen/Qwen3-8B-AWQ", "Standard_NV36ads_A10_v5", 1),
    ("openai/gpt-oss-20b", "Standard_NC24ads_A100_v4", 1),
    ("openai/gpt-oss-120b", "Standard_NC24ads_A100_v4", 3),  # 3 GPUs of 80 GiB, one per node
    ("openai/gpt-oss-120b", "Standard_NC48ads_A100_v4", 2),  # 3 GPUs, two per node
    ("openai/gpt-oss-120b", "Standard_NC96ads_A100_v4", 1),
    ("openai/gpt-oss-120b", "Standard_NC80adis_H100_v5", 1),
    ("google/gemma-3-27b-it", "Standard_NC24ads_A100_v4", 1),
    ("meta-llama/Llama-3.3-70B-Instruct", "Standard_NC96ads_A100_v4", 1),
]


@pytest.mark.parametrize(("model", "size", "nodes"), ESTIMATES)
def test_kaito_aks_counts_the_nodes_kaito_0_12_creates(model, size, nodes):
    from stacks.catalog import VM_SIZES

    overrides = {"model": model, "instanceType": size}
    if model.startswith(("google/", "meta-llama/")):
        overrides["hfToken"] = HF_TOKEN
    settings = settings_of(size_config("large", "upstream", **overrides))
    assert settings.node_count == nodes
    assert settings.nodes_on(VM_SIZES[size]) == nodes


def test_the_cost_counts_every_node_kaito_creates_and_the_workspace_keeps_the_default_count():
    from stacks import prices

    run = upstream("large", instanceType="Standard_NC48ads_A100_v4")
    expected = 2 * prices.usd_per_hour("Standard_NC48ads_A100_v4", "eastus") + sum(
        prices.usd_per_hour(sku, "eastus") for sku in ("Standard_D4s_v5", prices.LOG_ANALYTICS_GB_PER_DAY))
    assert run.outputs["estimatedHourlyCostUsd"] == pytest.approx(expected)
    # The Workspace still asks for the CRD's default count, a field KAITO 0.12 ignores for vLLM.
    assert manifest(run)["resource"]["count"] == 1


def test_the_plan_of_upstream_large_shows_kaitos_node_count_and_its_cost():
    from scripts import plan as plan_command
    from stacks import prices

    config = size_config("large", "upstream", instanceType="Standard_NC48ads_A100_v4")
    document = plan_command.plan_document("test", settings_of(config), upstream("large", instanceType=
                                                                                 "Standard_NC48ads_A100_v4"))
    assert (document["nodeCount"], document["gpus"]) == (2, 4)
    assert document["nodesDecidedBy"] == "KAITO 0.12.0's node estimator (model and VM size)"
    size = prices.usd_per_hour("Standard_NC48ads_A100_v4", "eastus")
    assert document["estimatedHourlyCostUsd"] == pytest.approx(2 * size + sum(
        prices.usd_per_hour(sku, "eastus") for sku in ("Standard_D4s_v5", prices.LOG_ANALYTICS_GB_PER_DAY)))
