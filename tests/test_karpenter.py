"""Upstream KAITO on self-hosted Azure Karpenter (kaito-aks:nodeProvisioner karpenter, the default):
checked against the chart values, CRD and controller options of the versions pinned."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from components.identity import BUILT_IN_ROLES
from components.kaito_install import AKS_NODE_CLASSES
from components.karpenter import CHART, CHART_VERSION
from scripts.offline import FAKE_SSH_PUBLIC_KEY, ProgramRun
from tests.harness import CLUSTER, size_program

HERE = Path(__file__).parent
KARPENTER_VALUES = yaml.safe_load((HERE / "upstream" / "karpenter-1.12.0-values.yaml").read_text())
KAITO_VALUES = yaml.safe_load((HERE / "upstream" / "kaito-workspace-0.12.0-values.yaml").read_text())
KARPENTER_ENV = {line for line in (HERE / "upstream" / "karpenter-1.12.0-env.txt").read_text().splitlines()
                 if line and not line.startswith("#")}
AKS_NODE_CLASS = json.loads((HERE / "schemas" / "aksnodeclass-v1beta1-karpenter-1.12.0.strict.schema.json").read_text())
RELEASE = "kubernetes:helm.sh/v3:Release"
ROLE = "azure-native:authorization:RoleAssignment"
SECRET = "kubernetes:core/v1:Secret"


@pytest.fixture(scope="module")
def run() -> ProgramRun:
    return size_program("small", "upstream")


def release(run: ProgramRun, name: str):
    return next(r for r in run.of_type(RELEASE) if r.inputs["name"] == name)


def env_of(values: dict) -> dict[str, str]:
    return {item["name"]: item["value"] for item in values["controller"]["env"]}


def key_paths(value, prefix=""):
    """Dotted paths of every mapping key (lists are leaves: their items are the user's)."""
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else key
            yield path
            yield from key_paths(item, path)


def upstream_has(defaults: dict, path: str) -> bool:
    """The chart declares this value (a key under a default of `{}` is the user's own)."""
    node = defaults
    for part in path.split("."):
        if node == {}:
            return True
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def test_karpenter_is_the_default_provisioner_of_upstream_mode(run):
    assert release(run, "karpenter").inputs["chart"] == CHART == "oci://mcr.microsoft.com/aks/karpenter/karpenter"
    # KARPENTER_VERSION in kaito-project/kaito@v0.12.0:Makefile.
    assert release(run, "karpenter").inputs["version"] == CHART_VERSION == "1.12.0"
    assert release(run, "karpenter").inputs["namespace"] == "karpenter"
    assert "karpenter" in {ns.inputs["metadata"]["name"] for ns in run.of_type("kubernetes:core/v1:Namespace")}
    assert [r for r in run.of_type(RELEASE) if r.inputs["name"] == "gpu-provisioner"] == []


def test_kaitos_chart_is_told_to_use_karpenter_with_its_own_node_classes(run):
    values = release(run, "kaito-workspace").inputs["values"]
    assert values["nodeProvisioner"] == "karpenter"
    # The same node classes as the chart's defaults, stated by the program.
    assert values["karpenterProviders"]["azure"]["nodeClasses"] == KAITO_VALUES["karpenterProviders"]["azure"][
        "nodeClasses"] == AKS_NODE_CLASSES
    for path in key_paths(values):
        assert upstream_has(KAITO_VALUES, path), f"{path} is not a value of KAITO's chart 0.12.0"


@pytest.mark.parametrize("node_class", AKS_NODE_CLASSES, ids=lambda item: item["name"])
def test_every_aks_node_class_kaito_creates_is_valid_for_karpenter_1_12(node_class):
    # KAITO creates karpenter.azure.com/v1beta1 AKSNodeClasses with each entry's spec as is
    # (kaito-project/kaito@v0.12.0:pkg/nodeprovision/karpenter/provisioner.go).
    obj = {"apiVersion": "karpenter.azure.com/v1beta1", "kind": "AKSNodeClass",
           "metadata": {"name": node_class["name"], "labels": {"karpenter.kaito.sh/managed-by": "kaito"}},
           "spec": node_class["spec"]}
    jsonschema.validate(obj, AKS_NODE_CLASS)


def test_the_aks_node_class_check_can_fail():
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"apiVersion": "karpenter.azure.com/v1beta1", "kind": "AKSNodeClass",
                             "spec": {"imageFamily": "Windows2022"}}, AKS_NODE_CLASS)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"apiVersion": "karpenter.azure.com/v1beta1", "kind": "AKSNodeClass",
                             "spec": {"osDiskSizeGb": 300}}, AKS_NODE_CLASS)


def test_every_value_set_on_the_karpenter_chart_exists_in_its_1_12_values(run):
    values = release(run, "karpenter").inputs["values"]
    for path in key_paths(values):
        assert upstream_has(KARPENTER_VALUES, path), f"{path} is not a value of the karpenter chart 1.12.0"
    assert not upstream_has(KARPENTER_VALUES, "settings.clustername")  # the check notices a misspelt key


def test_the_controller_gets_every_option_it_requires_and_only_options_it_reads(run):
    values = release(run, "karpenter").inputs["values"]
    env = env_of(values)
    assert set(env) <= KARPENTER_ENV, set(env) - KARPENTER_ENV
    # The chart turns settings.clusterName/clusterEndpoint into CLUSTER_NAME/CLUSTER_ENDPOINT, and the
    # token comes from a Secret (envFrom): options_validation.go's required fields are all there.
    provided = {*env, "CLUSTER_NAME", "CLUSTER_ENDPOINT", "KUBELET_BOOTSTRAP_TOKEN"}
    required = {"CLUSTER_ENDPOINT", "CLUSTER_NAME", "KUBELET_BOOTSTRAP_TOKEN", "SSH_PUBLIC_KEY", "VNET_SUBNET_ID",
                "AZURE_NODE_RESOURCE_GROUP"}
    assert required <= provided
    assert values["settings"]["clusterName"] == "aks-kaito-aks-test"
    assert re.fullmatch(r"https://aks-kaito-aks-test-dns-\w+\.hcp\.eastus\.azmk8s\.io:443",
                        values["settings"]["clusterEndpoint"])
    assert values["settings"]["featureGates"] == {"staticCapacity": True}
    assert values["controller"]["envFrom"] == [{"secretRef": {"name": "karpenter-bootstrap-token"}}]


def test_karpenters_nodes_join_the_clusters_network_subnet_and_identity(run):
    env = env_of(release(run, "karpenter").inputs["values"])
    cluster = run.one(CLUSTER)
    network = cluster.inputs["networkProfile"]
    assert (env["NETWORK_PLUGIN"], env["NETWORK_PLUGIN_MODE"], env["NETWORK_POLICY"], env["NETWORK_DATAPLANE"]) == (
        network["networkPlugin"], network["networkPluginMode"], network["networkPolicy"], network["networkDataplane"])
    subnet = run.one("azure-native:network:Subnet")
    vnet = run.one("azure-native:network:VirtualNetwork")
    subnet_id = cluster.inputs["agentPoolProfiles"][0]["vnetSubnetID"]
    assert env["VNET_SUBNET_ID"] == subnet_id and subnet_id.endswith(f"/virtualNetworks/vnet-aks-kaito-aks-test/"
                                                                      f"subnets/{subnet.inputs['subnetName']}")
    from scripts.offline import _uuid

    assert env["VNET_GUID"] == _uuid("vnet", vnet.inputs["virtualNetworkName"])  # what Azure assigned
    assert env["NODE_IDENTITIES"].endswith("/userAssignedIdentities/aks-kaito-aks-test-agentpool")
    assert env["KUBELET_IDENTITY_CLIENT_ID"] == _uuid("client", "aks-kaito-aks-test-agentpool")
    assert env["AZURE_NODE_RESOURCE_GROUP"] == "MC_rg-kaito-aks-test_aks-kaito-aks-test_eastus"
    assert (env["ARM_RESOURCE_GROUP"], env["LOCATION"]) == ("rg-kaito-aks-test", "eastus")
    assert env["SSH_PUBLIC_KEY"] == FAKE_SSH_PUBLIC_KEY.strip() + " azureuser"
    assert env["PROVISION_MODE"] == "aksscriptless"


def test_the_cluster_owns_the_subnet_and_may_join_its_nodes_to_it_and_nothing_more(run):
    cluster = run.one(CLUSTER)
    identity = next(r for r in run.of_type("azure-native:managedidentity:UserAssignedIdentity")
                    if r.name == "cluster-control-plane-identity")
    assert cluster.inputs["identity"]["type"] == "UserAssigned"
    assert len(cluster.inputs["identity"]["userAssignedIdentities"]) == 1
    grant = run.named(ROLE, "cluster-control-plane-node-subnet-network-contributor")
    assert grant.inputs["scope"] == cluster.inputs["agentPoolProfiles"][0]["vnetSubnetID"]
    assert grant.inputs["roleDefinitionId"].endswith(BUILT_IN_ROLES["Network Contributor"])
    assert grant.inputs["principalType"] == "ServicePrincipal"
    assert identity.urn in grant.dependencies
    assert grant.urn in cluster.dependencies  # the role exists before AKS joins nodes to the subnet
    vnet = run.one("azure-native:network:VirtualNetwork")
    assert vnet.ignore_changes == ["subnets"]


def test_karpenters_identity_has_exactly_the_roles_kaitos_script_grants(run):
    credential = run.named("azure-native:managedidentity:FederatedIdentityCredential",
                           "karpenter-identity-federated-credential")
    assert credential.inputs["subject"] == "system:serviceaccount:karpenter:karpenter-sa"
    assert credential.inputs["issuer"] == run.outputs["oidcIssuerUrl"]
    assert credential.inputs["audiences"] == ["api://AzureADTokenExchange"]
    grants = sorted(
        (next(role for role, guid in BUILT_IN_ROLES.items() if r.inputs["roleDefinitionId"].endswith(guid)),
         r.inputs["scope"].rsplit("/", 2)[-2:][0] if "/subnets/" in r.inputs["scope"] else r.inputs["scope"])
        for r in run.of_type(ROLE) if r.name.startswith("karpenter-")
    )
    node_group = ("/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/"
                  "MC_rg-kaito-aks-test_aks-kaito-aks-test_eastus")
    assert grants == [
        ("Managed Identity Operator", node_group),
        ("Network Contributor", node_group),
        ("Network Contributor", "subnets"),
        ("Virtual Machine Contributor", node_group),
    ]
    karpenters = [r for r in run.of_type(ROLE) if r.name.startswith("karpenter-")]
    assert all(r.inputs["principalType"] == "ServicePrincipal" for r in karpenters)
    values = release(run, "karpenter").inputs["values"]
    assert values["serviceAccount"] == {
        "name": "karpenter-sa", "annotations": {"azure.workload.identity/client-id": run.outputs["karpenterClientId"]},
    }
    assert values["podLabels"] == {"azure.workload.identity/use": "true"}


def test_the_bootstrap_token_is_a_valid_kubernetes_bootstrap_token_kept_secret(run):
    token = run.named(SECRET, "karpenter-bootstrap-token")
    data = token.inputs["stringData"]
    # kubernetes/kubernetes:staging/src/k8s.io/cluster-bootstrap/token/api/types.go
    assert token.inputs["type"] == "bootstrap.kubernetes.io/token"
    assert token.inputs["metadata"]["namespace"] == "kube-system"
    assert token.inputs["metadata"]["name"] == f"bootstrap-token-{data['token-id']}"
    assert re.fullmatch(r"[a-z0-9]{6}", data["token-id"]) and re.fullmatch(r"[a-z0-9]{16}", data["token-secret"])
    assert data["usage-bootstrap-authentication"] == "true"
    assert re.fullmatch(r"system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]", data["auth-extra-groups"])
    assert "stringData" in token.secret_paths or "stringData.token-secret" in token.secret_paths
    controller = run.named(SECRET, "karpenter-controller-token")
    assert controller.inputs["metadata"]["namespace"] == "karpenter"
    assert controller.inputs["stringData"] == {"KUBELET_BOOTSTRAP_TOKEN": f"{data['token-id']}.{data['token-secret']}"}
    assert controller.secret_paths
    # A new token rolls the controller, which reads it at start.
    annotations = release(run, "karpenter").inputs["values"]["podAnnotations"]
    assert annotations == {"kaito-aks/bootstrap-token-id": data["token-id"]}
    random_inputs = run.one("random:index/randomPassword:RandomPassword").inputs
    assert (random_inputs["length"], random_inputs["upper"], random_inputs["special"]) == (16, False, False)


def test_the_token_may_bootstrap_a_kubelet_and_nothing_else(run):
    bindings = {r.inputs["roleRef"]["name"]: r for r in
                run.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding")}
    assert set(bindings) == {"system:node-bootstrapper",
                             "system:certificates.k8s.io:certificatesigningrequests:nodeclient"}
    group = run.named(SECRET, "karpenter-bootstrap-token").inputs["stringData"]["auth-extra-groups"]
    for binding in bindings.values():
        assert binding.inputs["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}]


def test_the_controller_starts_only_after_its_identity_token_and_bindings_exist(run):
    karpenter = release(run, "karpenter")
    for name in ("karpenter-identity-federated-credential", "karpenter-bootstrap-token", "karpenter-controller-token",
                 "karpenter-node-bootstrapper", "karpenter-auto-approve-node-client"):
        assert next(r for r in run.resources if r.name == name).urn in karpenter.dependencies, name
    for role in run.of_type(ROLE):
        if role.name.startswith("karpenter-"):
            assert role.urn in karpenter.dependencies


def test_the_token_and_the_ssh_key_stay_out_of_the_helm_values(run):
    values = json.dumps(release(run, "karpenter").inputs["values"])
    data = run.named(SECRET, "karpenter-bootstrap-token").inputs["stringData"]
    assert data["token-secret"] not in values
    assert "PRIVATE KEY" not in values
