"""The whole program under mocks, per model size and per stack file: what each resource receives."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest

from stacks.catalog import VM_SIZES
from stacks.install_modes import ADDON
from stacks.profiles import ADDON_PROFILES
from tests.crd_schemas import SCHEMA_OF, validate_custom_resource
from tests.harness import (
    CLUSTER,
    HF_TOKEN,
    MODEL_SIZES,
    WORKSPACE,
    ProgramRun,
    program,
    run_program_afresh,
    size_config,
    size_program,
    stack_config,
    stack_names,
    workspace_object,
)

SCHEMA = json.loads(
    (Path(__file__).parent / "schemas" / "workspace-v1beta1-v0.6.0.strict.schema.json").read_text()
)
KUBERNETES_VERSION = "1.33"
OUTPUTS = {
    "resourceGroupName", "clusterName", "oidcIssuerUrl", "kubeconfig", "namespace",
    "workspaceName", "model", "instanceType", "inferenceEndpoint", "demoAppPortForward",
    "estimatedHourlyCostUsd", "estimatedMonthlyCostUsd", "estimatedCostBasis", "paused", "kaitoInstall",
    "smokeTestMeasurement",
}


@pytest.mark.parametrize("model_size", MODEL_SIZES)
def test_cluster_enables_the_kaito_addon_oidc_issuer_and_workload_identity(model_size):
    cluster = size_program(model_size).one(CLUSTER).inputs
    assert cluster["aiToolchainOperatorProfile"] == {"enabled": True}
    assert cluster["oidcIssuerProfile"] == {"enabled": True}
    assert cluster["securityProfile"] == {"workloadIdentity": {"enabled": True}}
    assert cluster["identity"] == {"type": "SystemAssigned"}


@pytest.mark.parametrize("model_size", MODEL_SIZES)
def test_every_size_serves_its_profile_model_on_its_profile_vm(model_size):
    run = size_program(model_size)
    profile = ADDON_PROFILES[model_size]
    manifest = workspace_object(run)
    assert manifest["resource"]["instanceType"] == profile.instance_types[0]
    assert manifest["resource"]["count"] == 1
    assert run.outputs["model"] == profile.model
    assert run.outputs["instanceType"] == profile.instance_types[0]
    if profile.cpu_only:
        assert "template" in manifest["inference"] and "preset" not in manifest["inference"]
    else:
        assert manifest["inference"]["preset"]["name"] == profile.model


@pytest.mark.parametrize("model_size", MODEL_SIZES)
def test_workspace_manifest_is_valid_against_kaito_0_6_0_strict_schema(model_size):
    manifest = workspace_object(size_program(model_size))
    jsonschema.validate(manifest, SCHEMA)
    assert "spec" not in manifest


def test_schema_check_catches_a_spec_wrapper():
    # Guards the guard: the strict schema must reject the classic mistake of a `spec:` wrapper.
    manifest = workspace_object(size_program("small"))
    wrapped = {k: v for k, v in manifest.items() if k not in ("resource", "inference")}
    wrapped["spec"] = {"resource": manifest["resource"], "inference": manifest["inference"]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(wrapped, SCHEMA)


def test_cpu_model_pod_template_is_a_valid_hardened_kubernetes_pod():
    template = workspace_object(size_program("cpu"))["inference"]["template"]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "check", **template["metadata"]},
           "spec": template["spec"]}
    kubernetes_validate.validate(pod, KUBERNETES_VERSION, strict=True)
    (container,) = template["spec"]["containers"]
    assert container["image"].startswith("ghcr.io/ggml-org/llama.cpp:server-b")
    assert not container["image"].endswith(":latest")
    assert {"containerPort": 5000, "name": "http", "protocol": "TCP"} in container["ports"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": 5000}
    assert set(container["resources"]) == {"requests", "limits"}
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert template["spec"]["securityContext"]["runAsNonRoot"] is True
    assert template["spec"]["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {"/cache", "/tmp"} <= mounts
    assert {"name": "LLAMA_CACHE", "value": "/cache"} in container["env"]
    args = container["args"]
    assert args[args.index("--port") + 1] == "5000"
    assert args[args.index("-hf") + 1] == "Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M"
    assert args[args.index("--alias") + 1] == "qwen2.5-0.5b-instruct"


def test_cpu_model_is_sized_for_the_vm_it_runs_on():
    run = size_program("cpu")
    size = VM_SIZES[run.outputs["instanceType"]]
    (container,) = workspace_object(run)["inference"]["template"]["spec"]["containers"]
    # One vCPU stays free for the kubelet and system daemons; half the memory is the model's.
    assert container["resources"]["limits"] == {"cpu": str(size.vcpus - 1), "memory": f"{int(size.memory_gib // 2)}Gi"}


@pytest.mark.parametrize("model_size", MODEL_SIZES)
def test_kubernetes_objects_are_valid_and_labelled(model_size):
    run = size_program(model_size)
    for resource in run.resources:
        if resource.type.startswith("kubernetes:") and resource.type != WORKSPACE:
            obj = {k: v for k, v in resource.inputs.items() if k != "__defaults"}
            if resource.type in SCHEMA_OF:
                validate_custom_resource(resource.type, obj)
            else:
                kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
            labels = resource.inputs["metadata"]["labels"]
            assert labels["app.kubernetes.io/part-of"] == "kaito-aks"
            assert labels["app.kubernetes.io/managed-by"] == "pulumi"


@pytest.mark.parametrize("model_size", MODEL_SIZES)
def test_workspace_is_bound_to_the_clusters_provider_and_waits_for_readiness(model_size):
    run = size_program(model_size)
    provider = run.one("pulumi:providers:kubernetes")
    workspace = run.one(WORKSPACE)
    for resource in run.resources:
        if resource.type.startswith("kubernetes:"):
            assert resource.provider.startswith(provider.urn + "::"), resource.name
    annotations = workspace.inputs["metadata"]["annotations"]
    assert annotations["pulumi.com/waitFor"] == "condition=WorkspaceSucceeded"
    timeout_minutes = ADDON_PROFILES[model_size].readiness_timeout_minutes
    assert annotations["pulumi.com/timeoutSeconds"] == str(timeout_minutes * 60)
    assert workspace.custom_timeouts["create"] == f"{timeout_minutes}m"
    assert workspace.delete_before_replace is True


def test_readiness_limits_leave_room_for_node_provisioning_and_the_download():
    # MS Learn: about 10 minutes for the node, up to 20 for the workspace; 70B weights take longer.
    for model_size, profile in ADDON_PROFILES.items():
        assert profile.readiness_timeout_minutes >= (20 if profile.cpu_only else 40), model_size
    assert ADDON_PROFILES["large"].readiness_timeout_minutes >= 60


def test_kubernetes_provider_survives_kubeconfig_rotation_and_a_deleted_cluster():
    run = size_program("small")
    provider = run.one("pulumi:providers:kubernetes")
    cluster = run.one(CLUSTER)
    assert provider.inputs["clusterIdentifier"].endswith("/managedClusters/aks-kaito-aks-test")
    assert provider.inputs["deleteUnreachable"] == "true"
    assert "kubeconfig" in provider.secret_paths
    assert provider.inputs["kubeconfig"].startswith("apiVersion: v1")
    assert cluster.urn in provider.dependencies


def test_kaito_gpu_pools_do_not_make_later_previews_change_the_cluster():
    cluster = size_program("small").one(CLUSTER)
    assert cluster.ignore_changes == ["agentPoolProfiles"]
    (system_pool,) = cluster.inputs["agentPoolProfiles"]
    wanted = {
        "name": "system", "mode": "System", "osType": "Linux", "type": "VirtualMachineScaleSets",
        "vmSize": "Standard_D4s_v5", "count": 1,
    }
    assert {key: system_pool.get(key) for key in wanted} == wanted


def test_cluster_runs_a_network_policy_engine():
    network = size_program("cpu").one(CLUSTER).inputs["networkProfile"]
    wanted = {
        "networkPlugin": "azure", "networkPluginMode": "overlay",
        "networkDataplane": "cilium", "networkPolicy": "cilium",
    }
    assert {key: network.get(key) for key in wanted} == wanted


@pytest.mark.parametrize("model_size", MODEL_SIZES)
def test_every_output_is_exported_and_the_kubeconfig_is_secret(model_size):
    run = size_program(model_size)
    assert set(run.outputs) == OUTPUTS
    assert all(run.outputs[name] not in (None, "") for name in OUTPUTS), run.outputs
    assert run.outputs["paused"] is False
    assert run.secret_outputs == {"kubeconfig"}
    assert run.outputs["oidcIssuerUrl"].startswith("https://eastus.oic.prod-aks.azure.com/")
    name, namespace = run.outputs["workspaceName"], run.outputs["namespace"]
    assert run.outputs["inferenceEndpoint"] == f"http://{name}.{namespace}.svc.cluster.local/v1"


@pytest.mark.parametrize("model_size", [size for size in MODEL_SIZES
                                        if ADDON.needs_model_access_secret(ADDON_PROFILES[size].model, False)])
def test_model_needing_a_token_gets_a_secret_referenced_by_model_access_secret(model_size):
    run = size_program(model_size)
    secret = run.one("kubernetes:core/v1:Secret")
    assert secret.inputs["stringData"] == {"HF_TOKEN": HF_TOKEN}
    assert secret.secret_paths == ["stringData"]
    preset = workspace_object(run)["inference"]["preset"]
    assert preset["presetOptions"] == {"modelAccessSecret": secret.inputs["metadata"]["name"]}
    assert secret.urn in run.one(WORKSPACE).dependencies


@pytest.mark.parametrize("model_size", [size for size in MODEL_SIZES if not ADDON_PROFILES[size].cpu_only
                                        and not ADDON.needs_model_access_secret(ADDON_PROFILES[size].model, False)])
def test_models_with_bundled_weights_get_no_access_secret(model_size):
    # KAITO 0.6.0 rejects modelAccessSecret for presets whose weights ship in the image.
    run = size_program(model_size)
    assert run.of_type("kubernetes:core/v1:Secret") == []
    assert "presetOptions" not in workspace_object(run)["inference"]["preset"]


def test_a_token_set_for_a_model_that_needs_none_is_not_used():
    run = size_program("small", hfToken=HF_TOKEN)
    assert run.of_type("kubernetes:core/v1:Secret") == []
    assert "presetOptions" not in workspace_object(run)["inference"]["preset"]


@pytest.mark.parametrize("model_size", MODEL_SIZES)
def test_the_token_never_appears_outside_a_secret(model_size):
    run = size_program(model_size, hfToken=HF_TOKEN)
    for resource in run.resources:
        plain = json.dumps({k: v for k, v in resource.inputs.items() if k not in ("stringData", "kubeconfig")})
        assert HF_TOKEN not in plain, resource.name
    assert HF_TOKEN not in json.dumps(run.outputs)


@pytest.mark.parametrize("model_size", MODEL_SIZES)
def test_children_are_parented_to_their_components(model_size):
    run = size_program(model_size)
    components = {r.urn: r.type for r in run.resources if r.type.startswith("kaito-aks:")}
    assert set(components.values()) == {
        "kaito-aks:cluster:AksCluster", "kaito-aks:workspace:KaitoWorkspace",
        "kaito-aks:smoke_test:SmokeTest", "kaito-aks:demo_app:DemoApp",
        "kaito-aks:monitoring_workspaces:MonitoringWorkspaces", "kaito-aks:cluster_monitoring:ClusterMonitoring",
        # The DCGM exporter runs where the model has GPUs.
        *(() if model_size == "cpu" else ("kaito-aks:gpu_metrics:GpuMetricsExporter",)),
    }
    for resource in run.resources:
        if not resource.type.startswith("kaito-aks:"):
            assert resource.parent in components, f"{resource.name} is not inside a component"


# The user's tags, one of which tries to override a standard tag.
USER_TAGS = {"owner": "platform-team", "cost-center": "42", "stack": "prod"}


def test_standard_and_user_tags_reach_every_azure_resource():
    run = size_program("cpu", tags=USER_TAGS)
    expected = {
        "project": "kaito-aks", "stack": "test", "modelSize": "cpu", "managed-by": "pulumi",
        "environment": "test", "owner": "platform-team", "cost-center": "42",
    }
    azure = [r for r in run.resources if r.type.startswith("azure-native:")]
    taggable = [r for r in azure if takes_tags(r.type)]
    # Role assignments, maintenance windows and the like have no tags in the ARM API.
    assert {r.type for r in azure} - {r.type for r in taggable} == {
        "azure-native:authorization:RoleAssignment", "azure-native:containerservice:MaintenanceConfiguration",
        "azure-native:monitor:DataCollectionRuleAssociation"}
    assert {r.type.split(":", 1)[1] for r in taggable} == {
        "resources:ResourceGroup", "containerservice:ManagedCluster", "monitor:AzureMonitorWorkspace",
        "operationalinsights:Workspace", "monitor:DataCollectionEndpoint", "monitor:DataCollectionRule",
        "alertsmanagement:PrometheusRuleGroup"}
    for resource in taggable:
        assert resource.inputs["tags"] == expected


def takes_tags(resource_type: str) -> bool:
    """Whether the SDK's resource class for `azure-native:<module>:<Type>` has a `tags` argument."""
    import importlib
    import inspect

    _, module, class_name = resource_type.split(":")
    resource_class = getattr(importlib.import_module(f"pulumi_azure_native.{module}"), class_name)
    return "tags" in inspect.signature(resource_class._internal_init).parameters


def test_user_tags_cannot_override_the_standard_tags():
    run = size_program("cpu", tags=USER_TAGS)
    assert run.one(CLUSTER).inputs["tags"]["stack"] == "test"
    assert run.one(CLUSTER).inputs["tags"]["owner"] == "platform-team"


def test_overrides_reach_the_resources():
    run = size_program(
        "medium", instanceType="Standard_NC40ads_H100_v5", nodeCount=2, namespace="models",
        workspaceName="phi", kubernetesVersion="1.33", systemNodeVmSize="Standard_D8s_v5", systemNodeCount=3,
    )
    manifest = workspace_object(run)
    assert manifest["resource"]["instanceType"] == "Standard_NC40ads_H100_v5"
    assert manifest["resource"]["count"] == 2
    assert manifest["metadata"]["name"] == "phi"
    assert manifest["metadata"]["namespace"] == "models"
    cluster = run.one(CLUSTER).inputs
    assert cluster["kubernetesVersion"] == "1.33"
    assert cluster["agentPoolProfiles"][0]["vmSize"] == "Standard_D8s_v5"
    assert cluster["agentPoolProfiles"][0]["count"] == 3
    assert run.outputs["inferenceEndpoint"] == "http://phi.models.svc.cluster.local/v1"


def test_kubernetes_version_is_left_to_aks_by_default():
    assert "kubernetesVersion" not in size_program("cpu").one(CLUSTER).inputs


@pytest.mark.parametrize("config", [
    pytest.param(("dev", None), id="dev stack file"),
    pytest.param(("test", size_config("large", "upstream", hfToken=HF_TOKEN)), id="upstream on karpenter"),
])
def test_same_config_gives_identical_resource_inputs(config):
    stack, given = config
    given = given or stack_config(stack)
    first = program(given, stack=stack, preview=True)
    # The one deliberate second evaluation of a config: determinism is what is under test. The second
    # config is the program's largest (Karpenter, random token, SSH key, Helm releases).
    second = run_program_afresh(given, stack=stack, secret_keys=("kaito-aks:hfToken",), preview=True)
    # Registration order depends on asyncio scheduling; what each resource receives must not.
    assert by_urn(first) == by_urn(second)
    assert len(by_urn(first)) == len(first.resources)


def by_urn(run: ProgramRun) -> dict[str, str]:
    return {r.urn: json.dumps(r.inputs, sort_keys=True) for r in run.resources}


@pytest.mark.parametrize("stack", stack_names())
def test_every_stack_file_plans_cleanly(stack):
    config = stack_config(stack)
    run = program(config, stack=stack, preview=True)
    exposure = "demoAppUrl" if config.get("kaito-aks:exposure") == "public" else "demoAppPortForward"
    assert exposure in run.outputs
    assert run.outputs["resourceGroupName"] == f"rg-kaito-aks-{stack}"
    assert run.one("azure-native:resources:ResourceGroup").inputs["location"] == config["azure-native:location"]
    if run.of_type(WORKSPACE):
        schema = SCHEMA if run.outputs["kaitoInstall"] == "addon" else json.loads(
            (Path(__file__).parent / "schemas" / "workspace-v1beta1-v0.12.0.strict.schema.json").read_text())
        jsonschema.validate(workspace_object(run), schema)


def test_the_dev_stack_is_the_cheap_one():
    run = program(stack_config("dev"), stack="dev", preview=True)
    assert not VM_SIZES[run.outputs["instanceType"]].has_gpu
    assert run.one(CLUSTER).inputs["tags"]["environment"] == "dev"


def test_size_config_helper_gives_a_token_only_where_the_model_needs_one():
    # The helper the tests build configs with must not paper over a missing-token error.
    for model_size in MODEL_SIZES:
        config = size_config(model_size)
        needs = ADDON.is_gpu_model(ADDON_PROFILES[model_size].model) and ADDON.needs_model_access_secret(
            ADDON_PROFILES[model_size].model, False)
        assert ("kaito-aks:hfToken" in config) is needs
