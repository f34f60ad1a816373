"""Weights from the stack's own Blob container (kaito-aks:modelWeights blob): KAITO 0.12's ModelMirror and
ModelStreaming turned on, a ModelMirror per GPU model made by kaito-aks (checked against KAITO's CRD at v0.12.0) with
a PersistentVolume bound ahead to the claim KAITO makes, and two workload identities, each with one role on the one
container. Refused with the fix where KAITO cannot stream."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import jsonschema
import pytest

from components.identity import BUILT_IN_ROLES
from stacks import cost
from stacks.catalog import UPSTREAM_MODELS
from stacks.settings import ConfigError
from tests.harness import BLOB, CLUSTER, WORKSPACE, run_failing_program, settings_of, size_config, size_program

HERE = Path(__file__).parent
MIRROR_SCHEMA = json.loads((HERE / "schemas" / "modelmirror-v1alpha1-v0.12.0.strict.schema.json").read_text())
MIRROR = "kubernetes:kaito.sh/v1alpha1:ModelMirror"
VOLUME = "kubernetes:core/v1:PersistentVolume"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
ACCOUNT = "azure-native:storage:StorageAccount"
CONTAINER = "azure-native:storage:BlobContainer"
ROLE = "azure-native:authorization:RoleAssignment"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
CREDENTIAL = "azure-native:managedidentity:FederatedIdentityCredential"
ACCOUNT_ID = ("/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-models/providers/"
              "Microsoft.Storage/storageAccounts/contosomodels")


def blob(**overrides):
    return size_program("small", "upstream", **{**BLOB, **overrides})


def manifest(resource) -> dict:
    return {key: value for key, value in resource.inputs.items() if key != "__defaults"}


def kaito_release(run):
    return next(r for r in run.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["name"] == "kaito-workspace")


def test_each_gpu_model_gets_a_model_mirror_kaito_0_12_accepts_downloading_as_the_writer():
    run = blob()
    mirrors = {m.inputs["spec"]["source"]["modelID"]: manifest(m) for m in run.of_type(MIRROR)}
    # The CPU model is served by llama.cpp: KAITO streams vLLM Workspaces only.
    assert set(mirrors) == {"Qwen/Qwen3-8B-AWQ", "microsoft/Phi-4-mini-instruct"}
    for model_id, mirror in mirrors.items():
        jsonschema.validate(mirror, MIRROR_SCHEMA)
        # KAITO looks the mirror up by this name and reuses it (workspace_controller.go ensureModelMirror).
        assert mirror["metadata"]["name"] == hashlib.sha256(model_id.encode()).hexdigest()[:6]
        spec = mirror["spec"]
        assert (spec["mode"], spec["source"]["registry"]) == ("Managed", "huggingface")
        assert (spec["jobNamespace"], spec["serviceAccountName"]) == ("kaito-weights", "weights-writer")
        assert spec["storage"]["storageClassName"] == "kaito-aks-weights"
        # The size KAITO's catalog gives it: the weights plus 80 GiB of system files.
        assert spec["storage"]["size"] == f"{int(UPSTREAM_MODELS[model_id].weights_gib + 80)}Gi"
        # The download Job reads the token by name in its own namespace.
        assert spec["source"]["accessSecret"] == {"name": "hf-token", "namespace": "kaito-weights"}
    secret = run.named("kubernetes:core/v1:Secret", "model-weights-hf-token")
    assert secret.inputs["metadata"]["namespace"] == "kaito-weights"


def test_each_mirror_has_a_volume_bound_ahead_whose_handle_names_the_stacks_container():
    run = blob()
    account = run.one(ACCOUNT).inputs["accountName"]
    storage_class = run.one(STORAGE_CLASS).inputs
    # KAITO checks the class exists and is the blob driver's; the shared container is never deleted with a claim.
    assert (storage_class["provisioner"], storage_class["reclaimPolicy"]) == ("blob.csi.azure.com", "Retain")
    for mirror in run.of_type(MIRROR):
        name, size = mirror.inputs["metadata"]["name"], mirror.inputs["spec"]["storage"]["size"]
        (volume,) = [v for v in run.of_type(VOLUME) if v.inputs["spec"]["claimRef"]["name"] == name]
        spec = volume.inputs["spec"]
        assert spec["claimRef"] == {"namespace": "kaito-weights", "name": name}  # the claim KAITO's controller makes
        assert (spec["storageClassName"], spec["capacity"]["storage"]) == ("kaito-aks-weights", size)
        assert spec["accessModes"] == ["ReadWriteMany"] and spec["persistentVolumeReclaimPolicy"] == "Retain"
        # KAITO streams from az://<container>/<model id> of the account, both read from the handle (wiblob.go).
        parts = spec["csi"]["volumeHandle"].split("#")
        assert (parts[1], parts[2]) == (account, "models") and parts[3] == volume.inputs["metadata"]["name"]
        # A volume binds once (KAITO deletes the claim with its mirror, leaving the volume Released) and its source
        # cannot change: it is named after everything it and its mirror hold, and the mirror, annotated with that
        # name, is replaced with it, so KAITO's new claim binds the new volume.
        attributes = spec["csi"]["volumeAttributes"]
        held = [manifest(mirror)["spec"], account, parts[0], attributes["clientID"]]
        digest = hashlib.sha256(json.dumps(held, sort_keys=True).encode()).hexdigest()[:6]
        assert volume.inputs["metadata"]["name"] == f"kaito-weights-{name}-{digest}"
        assert mirror.inputs["metadata"]["annotations"] == {"kaito-aks/volume": volume.inputs["metadata"]["name"]}
        assert set(mirror.replace_on_changes) == {"spec", "metadata.annotations.kaito-aks/volume"}
        assert attributes["mountWithWorkloadIdentityToken"] == "true" and attributes["protocol"] == "fuse2"
        assert attributes["clientID"] == identity_client_id(run, "writer")
        assert volume.urn in mirror.dependencies
    handles = [v.inputs["spec"]["csi"]["volumeHandle"] for v in run.of_type(VOLUME)]
    assert len(set(handles)) == len(handles) == 2


def identity_client_id(run, role: str) -> str:
    (identity,) = [i for i in run.of_type(IDENTITY) if i.inputs["resourceName"].endswith(f"-weights-{role}")]
    return identity.outputs["clientId"]


def test_each_identity_has_one_role_on_the_one_container_and_signs_in_as_one_service_account():
    run = blob()
    roles = [r for r in run.of_type(ROLE) if r.name.startswith("model-weights-")]
    assert len(roles) == 2
    # The container's own ARM ID: neither identity reaches the account's other containers, keys or settings.
    assert {r.inputs["scope"] for r in roles} == {run.one(ACCOUNT).id + "/blobServices/default/containers/models"}
    granted = {r.name.split("-")[2]: r.inputs["roleDefinitionId"].rsplit("/", 1)[1] for r in roles}
    assert granted == {"reader": BUILT_IN_ROLES["Storage Blob Data Reader"],
                       "writer": BUILT_IN_ROLES["Storage Blob Data Contributor"]}
    subjects = {c.name.split("-")[2]: c.inputs["subject"] for c in run.of_type(CREDENTIAL)
                if c.name.startswith("model-weights-")}
    assert subjects == {"reader": "system:serviceaccount:kaito:kaito-model-streamer",
                        "writer": "system:serviceaccount:kaito-weights:weights-writer"}
    accounts = {a.inputs["metadata"]["name"]: a.inputs for a in run.of_type("kubernetes:core/v1:ServiceAccount")}
    for name, role in (("kaito-model-streamer", "reader"), ("weights-writer", "writer")):
        assert accounts[name]["metadata"]["annotations"] == {
            "azure.workload.identity/client-id": identity_client_id(run, role)}
        assert accounts[name]["automountServiceAccountToken"] is False
    assert accounts["kaito-model-streamer"]["metadata"]["namespace"] == "kaito"


def test_the_stacks_account_takes_entra_id_sign_in_only_from_the_nodes_subnet():
    run = blob()
    account = run.one(ACCOUNT).inputs
    # Karpenter's stacks own the nodes' subnet: the account admits it alone, through its storage service endpoint.
    subnet = run.one("azure-native:network:Subnet")
    assert subnet.inputs["serviceEndpoints"] == [{"service": "Microsoft.Storage"}]
    assert account["networkRuleSet"] == {"defaultAction": "Deny", "bypass": "AzureServices", "virtualNetworkRules": [
        {"action": "Allow", "virtualNetworkResourceId": subnet.id}]}
    assert "serviceEndpoints" not in size_program("small", "upstream").one("azure-native:network:Subnet").inputs
    assert account["allowSharedKeyAccess"] is False and account["defaultToOAuthAuthentication"] is True
    assert account["allowBlobPublicAccess"] is False and account["enableHttpsTrafficOnly"] is True
    assert account["minimumTlsVersion"] == "TLS1_2"
    assert 3 <= len(account["accountName"]) <= 24 and account["accountName"].isalnum()


def test_kaito_streams_every_gpu_model_and_each_workspace_waits_for_its_mirror():
    run = blob()
    values = kaito_release(run).inputs["values"]
    assert values["featureGates"] == {"ModelMirror": True, "ModelStreaming": True}
    assert (values["defaultModelMirrorStorageClass"], values["defaultStreamingServiceAccount"]) == (
        run.one(STORAGE_CLASS).inputs["metadata"]["name"], "kaito-model-streamer")
    # The download Job fits beside the cluster's services on the default system node (KAITO's default is 3 CPU and
    # 8 GiB, and it tolerates no GPU node), as KAITO's own CI runs it.
    assert (values["modelMirrorDownloadCPU"], values["modelMirrorDownloadMemory"]) == ("2", "4Gi")
    cluster = run.one(CLUSTER).inputs
    assert cluster["storageProfile"] == {"blobCSIDriver": {"enabled": True}}
    mirrors = {m.urn for m in run.of_type(MIRROR)}
    streamer = run.named("kubernetes:core/v1:ServiceAccount", "model-streaming-service-account").urn
    for workspace in run.of_type(WORKSPACE):
        # Made after the mirrors, or KAITO makes its own (as the reader, which cannot write).
        if "preset" in workspace.inputs["inference"]:
            assert mirrors <= set(workspace.dependencies) and streamer in workspace.dependencies
            assert "kaito.sh/model-streaming" not in workspace.inputs["metadata"]["annotations"]
    assert run.outputs["modelWeightsContainerUrl"] == (
        f"https://{run.one(ACCOUNT).inputs['accountName']}.blob.core.windows.net/models")


def test_stacks_that_do_not_ask_are_untouched():
    run = size_program("small", "upstream")
    assert run.of_type(MIRROR) == [] and run.of_type(ACCOUNT) == [] and run.of_type(VOLUME) == []
    assert "featureGates" not in kaito_release(run).inputs["values"]
    assert "storageProfile" not in run.one(CLUSTER).inputs


def test_an_existing_account_holds_the_container_and_the_stack_creates_none():
    run = blob(weightsStorageAccountId=ACCOUNT_ID)
    assert run.of_type(ACCOUNT) == []
    container = run.one(CONTAINER).inputs
    assert (container["accountName"], container["resourceGroupName"]) == ("contosomodels", "rg-models")
    scopes = {r.inputs["scope"] for r in run.of_type(ROLE) if r.name.startswith("model-weights-")}
    assert scopes == {f"{ACCOUNT_ID}/blobServices/default/containers/models"}
    handle = run.of_type(VOLUME)[0].inputs["spec"]["csi"]["volumeHandle"]
    assert handle.startswith("rg-models#contosomodels#models#")


def test_a_model_outside_the_table_gets_a_mirror_as_large_as_its_gpus_memory():
    settings = settings_of(size_config("small", "upstream", modelWeights="blob", model="my-org/private-model",
                                       instanceType="Standard_NC24ads_A100_v4"))
    # An 80 GiB A100 holds at most 80 GiB of weights, plus KAITO's 80 GiB of system files.
    assert settings.mirror_size_gib(settings.primary) == 160


def test_the_estimate_says_the_weights_storage_is_not_counted():
    settings = settings_of(size_config("small", "upstream", **BLOB))
    assert "mirrored weights in Blob" in cost.estimate(settings).basis()


@pytest.mark.parametrize(("config", "expected"), [
    (size_config("small", modelWeights="blob"),
     "kaito-aks:modelWeights 'blob' needs KAITO's ModelMirror and ModelStreaming (KAITO 0.11 and later), which the "
     "AKS AI toolchain operator add-on (KAITO 0.6.0) does not have"),
    (size_config("cpu", "upstream", modelWeights="blob"),
     "kaito-aks:modelWeights 'blob' applies to GPU models"),
    (size_config("small", "upstream", weightsStorageAccountId=ACCOUNT_ID),
     "kaito-aks:weightsStorageAccountId is set but kaito-aks:modelWeights is 'huggingface'"),
    ({**size_config("small", "upstream", modelWeights="blob", weightsStorageAccountId=ACCOUNT_ID),
      "azure-native:subscriptionId": "99999999-2222-3333-4444-555555555555"},
     "kaito-aks:weightsStorageAccountId is in subscription 11111111-2222-3333-4444-555555555555"),
    (size_config("small", "upstream", modelWeights="blob", weightsStorageAccountId="contosomodels"),
     "kaito-aks:weightsStorageAccountId 'contosomodels' is not a storage account's resource ID"),
], ids=["add-on", "cpu-only", "account-without-blob", "other-subscription", "not-an-id"])
def test_weights_from_blob_are_refused_with_the_fix_where_kaito_cannot_stream(config, expected):
    error, registered = run_failing_program(config)
    assert isinstance(error, ConfigError) and registered == []
    assert expected in str(error)


def test_every_kubernetes_object_of_a_blob_stack_is_valid_and_labelled():
    import kubernetes_validate

    from tests.crd_schemas import SCHEMA_OF, validate_custom_resource
    from tests.test_program import KUBERNETES_VERSION

    run = blob()
    checked = set()
    for resource in run.resources:
        # Helm releases are charts' values (tests/test_karpenter.py); Workspaces and mirrors have their own tests.
        if not resource.type.startswith("kubernetes:") or resource.type in (WORKSPACE, MIRROR) \
                or "helm.sh" in resource.type:
            continue
        obj = manifest(resource)
        if resource.type in SCHEMA_OF:
            validate_custom_resource(resource.type, obj)
        else:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "kaito-aks"
        checked.add(resource.type)
    assert {VOLUME, STORAGE_CLASS, "kubernetes:core/v1:ServiceAccount"} <= checked
