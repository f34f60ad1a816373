"""Who reaches the cluster and how it is run (issue: production security baseline), through the program's
real entry point under mocks, the stack files, and the access check against a local HTTPS API server."""

from __future__ import annotations

import base64
import datetime
import http.server
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
import yaml

from components import cluster_access_check
from components.cluster import use_azure_cli_sign_in
from components.identity import BUILT_IN_ROLES
from scripts import offline
from stacks.preflight import PreflightError, run_preflight
from tests.fake_azure import FakeAzure
from tests.harness import (
    OPERATED,
    UNATTENDED,
    program,
    settings_of,
    size_config,
    size_program,
    stack_config,
    stack_names,
)

CLUSTER = "azure-native:containerservice:ManagedCluster"
ROLE = "azure-native:authorization:RoleAssignment"
WINDOW = "azure-native:containerservice:MaintenanceConfiguration"
PROVIDER = "pulumi:providers:kubernetes"
RELEASE = "kubernetes:helm.sh/v3:Release"
ADMINS = ("11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222")
READERS = ("33333333-3333-3333-3333-333333333333",)
NODE_CLASS_SCHEMA = json.loads(
    (Path(__file__).parent / "schemas" / "aksnodeclass-v1beta1-karpenter-1.12.0.strict.schema.json").read_text())


def stack_run(stack: str) -> offline.ProgramRun:
    return program(stack_config(stack), stack=stack, preview=True)


def role_of(assignment: offline.Registered) -> str:
    return next(name for name, guid in BUILT_IN_ROLES.items() if assignment.inputs["roleDefinitionId"].endswith(guid))


@pytest.mark.parametrize("stack", stack_names())
def test_every_stack_signs_in_through_entra_id_with_no_local_accounts(stack):
    cluster = stack_run(stack).one(CLUSTER).inputs
    assert cluster["aadProfile"] == {"managed": True, "enableAzureRBAC": True}
    assert cluster["disableLocalAccounts"] is True
    assert cluster["enableRBAC"] is True


def test_the_kubeconfig_holds_no_credential_and_signs_in_with_kubelogin():
    run = size_program("cpu")
    assert "kubeconfig" in run.secret_outputs
    provider = run.one(PROVIDER)
    assert "kubeconfig" in provider.secret_paths
    kubeconfig = yaml.safe_load(provider.inputs["kubeconfig"])
    (user,) = kubeconfig["users"]
    # What `kubelogin convert-kubeconfig -l azurecli` writes: the caller's own Azure CLI sign-in, never
    # AKS's interactive device-code login (CI switches the method with AAD_LOGIN_METHOD).
    assert user["user"] == {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "command": "kubelogin",
        "args": ["get-token", "--login", "azurecli", "--server-id", "6dae42f8-4368-4678-94ff-3960e28e3630"],
        "installHint": "kaito-aks signs in to the cluster with kubelogin: install it with `az aks install-cli` "
                       "(or https://azure.github.io/kubelogin/install.html), then run `az login`",
        "interactiveMode": "Never",
        "provideClusterInfo": False,
    }}
    text = provider.inputs["kubeconfig"]
    for credential in ("token:", "client-key-data", "client-certificate-data", "password"):
        assert credential not in text
    assert kubeconfig["clusters"][0]["cluster"]["server"].startswith("https://")


class ClusterBeforeEntraId(offline.ProviderLikeMocks):
    """A stack deployed before kaito-aks turned Entra ID on: AKS ignores format=exec and returns the local
    account's kubeconfig."""

    def call(self, args):
        if args.token == "azure-native:containerservice:listManagedClusterUserCredentials":
            return {"kubeconfigs": [{"name": "clusterUser",
                                     "value": base64.b64encode(LOCAL_ACCOUNT_KUBECONFIG.encode()).decode()}]}
        return super().call(args)


LOCAL_ACCOUNT_KUBECONFIG = offline.FAKE_KUBECONFIG.split("users:")[0] + """users:
- name: clusterUser_rg-kaito-aks-test_aks-kaito-aks-test
  user:
    client-certificate-data: Y2VydA==
    client-key-data: a2V5
    token: 0123456789abcdef
"""


def test_a_preview_of_a_stack_from_before_entra_id_reads_it_with_its_local_account_and_says_so():
    run = offline.run_program_with(size_config("cpu"), ClusterBeforeEntraId(), preview=True)
    assert yaml.safe_load(run.one(PROVIDER).inputs["kubeconfig"])["users"][0]["user"]["token"] == "0123456789abcdef"
    assert any("does not use Entra ID sign-in yet" in warning for warning in run.warnings)


def test_an_update_that_still_gets_a_local_account_kubeconfig_fails_with_the_reason():
    with pytest.raises(ValueError, match="without a kubelogin"):
        use_azure_cli_sign_in(LOCAL_ACCOUNT_KUBECONFIG)
    with pytest.raises(ValueError, match="without a kubelogin"):
        use_azure_cli_sign_in(offline.FAKE_AZURE_AUTH_PROVIDER_KUBECONFIG)


def test_the_deployer_gets_cluster_admin_and_nothing_is_created_in_the_cluster_before_it_works():
    run = size_program("cpu")
    deployer = run.named(ROLE, "cluster-deployer-rbac-cluster-admin")
    cluster = run.one(CLUSTER)
    assert deployer.inputs["principalId"] == offline.DEPLOYER_OBJECT_ID  # who runs `pulumi up`
    assert role_of(deployer) == "Azure Kubernetes Service RBAC Cluster Admin"
    assert deployer.inputs["scope"] == run.one(PROVIDER).inputs["clusterIdentifier"]
    assert cluster.urn in deployer.dependencies
    assert deployer.after_create_hooks == ["cluster-wait-for-cluster-access"]
    assert deployer.urn in run.one(PROVIDER).dependencies
    # Every Kubernetes object goes through that provider.
    kubernetes = [r for r in run.resources if r.type.startswith("kubernetes:")]
    assert kubernetes and all(r.provider.startswith(run.one(PROVIDER).urn) for r in kubernetes)


def test_listed_groups_get_admin_or_read_only_access_and_nothing_else():
    run = size_program("cpu", **OPERATED)
    cluster_id = run.one(PROVIDER).inputs["clusterIdentifier"]
    groups = sorted((r.inputs["principalId"], role_of(r)) for r in run.of_type(ROLE)
                    if r.inputs.get("principalType") == "Group")
    assert groups == sorted([
        (ADMINS[0], "Azure Kubernetes Service RBAC Cluster Admin"),
        (ADMINS[1], "Azure Kubernetes Service RBAC Cluster Admin"),
        # RBAC Reader cannot fetch a kubeconfig; Cluster User Role can, and reads the cluster resource only.
        (READERS[0], "Azure Kubernetes Service RBAC Reader"),
        (READERS[0], "Azure Kubernetes Service Cluster User Role"),
    ])
    assert {r.inputs["scope"] for r in run.of_type(ROLE)} == {cluster_id}


def test_role_assignments_are_replaced_delete_first_since_azure_refuses_a_duplicate():
    run = size_program("small", "upstream")
    assignments = run.of_type(ROLE)
    assert len(assignments) >= 5
    assert all(r.delete_before_replace for r in assignments)
    assert len({r.inputs["roleAssignmentName"] for r in assignments}) == len(assignments)


# The cluster-operations settings a platform team changes are in one stack, tests/harness.py's OPERATED, with the
# access groups above (each test looks at its own part).
AUTHORIZED_RANGES = ["20.30.40.0/24", "52.160.0.7/32"]


def test_the_api_server_is_open_to_sign_ins_from_anywhere_unless_ranges_are_listed():
    assert size_program("cpu").one(CLUSTER).inputs["apiServerAccessProfile"] == {"authorizedIPRanges": []}
    limited = size_program("cpu", **OPERATED).one(CLUSTER).inputs
    assert limited["apiServerAccessProfile"] == {"authorizedIPRanges": AUTHORIZED_RANGES}


def test_prod_runs_with_the_sla_host_encryption_and_a_weekend_window():
    run = stack_run("prod")
    cluster = run.one(CLUSTER).inputs
    assert cluster["sku"] == {"name": "Base", "tier": "Standard"}
    assert cluster["agentPoolProfiles"][0]["enableEncryptionAtHost"] is True
    assert cluster["autoUpgradeProfile"] == {"upgradeChannel": "patch", "nodeOSUpgradeChannel": "NodeImage"}
    windows = {r.inputs["configName"]: r.inputs for r in run.of_type(WINDOW)}
    assert set(windows) == {"aksManagedAutoUpgradeSchedule", "aksManagedNodeOSUpgradeSchedule"}
    for window in windows.values():
        assert window["resourceName"] == cluster["resourceName"]
        assert window["maintenanceWindow"] == {
            "schedule": {"weekly": {"dayOfWeek": "Saturday", "intervalWeeks": 1}},
            "startTime": "22:00", "durationHours": 4, "utcOffset": "+00:00",
        }
    # The Standard tier is in the estimate ($0.10 per cluster-hour).
    assert "disks and egress not counted" in run.outputs["estimatedCostBasis"]


def test_defaults_are_free_tier_patch_upgrades_and_no_host_encryption():
    run = size_program("cpu")
    cluster = run.one(CLUSTER).inputs
    assert cluster["sku"] == {"name": "Base", "tier": "Free"}
    assert cluster["agentPoolProfiles"][0]["enableEncryptionAtHost"] is False
    assert cluster["autoUpgradeProfile"] == {"upgradeChannel": "patch", "nodeOSUpgradeChannel": "NodeImage"}
    assert {r.inputs["maintenanceWindow"]["schedule"]["weekly"]["dayOfWeek"] for r in run.of_type(WINDOW)} == {
        "Sunday"}
    assert "free AKS control plane not counted" in run.outputs["estimatedCostBasis"]


def test_a_window_only_for_the_upgrades_that_are_turned_on():
    off = size_program("cpu", **UNATTENDED)  # upgrade channels none and Unmanaged, Kubernetes 1.33.2
    assert off.of_type(WINDOW) == []
    assert off.one(CLUSTER).inputs["kubernetesVersion"] == "1.33.2"  # nothing moves it: a full pin is fine
    node_images = size_program("cpu", **OPERATED)
    assert [r.inputs["configName"] for r in node_images.of_type(WINDOW)] == ["aksManagedNodeOSUpgradeSchedule"]


def test_standard_tier_costs_a_tenth_of_a_dollar_an_hour_more():
    free = size_program("cpu")
    standard = size_program("cpu", **OPERATED)  # its other settings (channels, ranges, groups, tags...) cost nothing
    assert round(standard.outputs["estimatedHourlyCostUsd"] - free.outputs["estimatedHourlyCostUsd"], 4) == 0.1


def test_karpenters_model_nodes_get_encryption_at_host_too():
    run = size_program("small", "upstream", encryptionAtHost=True)
    controller = next(r for r in run.of_type(RELEASE) if r.inputs["name"] == "kaito-workspace")
    node_classes = controller.inputs["values"]["karpenterProviders"]["azure"]["nodeClasses"]
    assert [c["spec"]["security"] for c in node_classes] == [{"encryptionAtHost": True}] * 2
    for node_class in node_classes:
        jsonschema.validate({"apiVersion": "karpenter.azure.com/v1beta1", "kind": "AKSNodeClass",
                             "metadata": {"name": node_class["name"]}, "spec": node_class["spec"]}, NODE_CLASS_SCHEMA)
    assert run.one(CLUSTER).inputs["agentPoolProfiles"][0]["enableEncryptionAtHost"] is True


# --- preflight: encryption at host ---------------------------------------------------------------


def test_encryption_at_host_needs_the_subscription_feature_and_says_how_to_register_it():
    azure = FakeAzure()
    azure.features[("Microsoft.Compute", "EncryptionAtHost")] = "NotRegistered"
    report = run_preflight(settings_of(size_config("cpu", encryptionAtHost=True)), azure, offline.SUBSCRIPTION)
    assert "az feature register --namespace Microsoft.Compute --name EncryptionAtHost" in report.blocking
    assert "NotRegistered" in report.blocking and "encryptionAtHost false" in report.blocking
    assert ("feature", ("Microsoft.Compute", "EncryptionAtHost")) in azure.calls
    # Off: the feature is not even asked about.
    plain = FakeAzure()
    assert run_preflight(settings_of(size_config("cpu")), plain, offline.SUBSCRIPTION).blocking is None
    assert not [call for call in plain.calls if call[0] == "feature"]


def test_a_system_pool_size_without_host_encryption_is_refused():
    azure = FakeAzure()
    azure.set_capability("Standard_D4s_v5", "EncryptionAtHostSupported", "False")
    report = run_preflight(settings_of(size_config("cpu", encryptionAtHost=True)), azure, offline.SUBSCRIPTION)
    assert "Standard_D4s_v5 (kaito-aks:systemNodeVmSize) does not support encryption at host" in report.blocking


def test_karpenter_skips_model_sizes_without_host_encryption():
    settings = settings_of(size_config("small", "upstream", encryptionAtHost=True))
    first = settings.candidate_instance_types[0]
    azure = FakeAzure()
    azure.set_capability(first, "EncryptionAtHostSupported", "False")
    report = run_preflight(settings, azure, offline.SUBSCRIPTION)
    assert report.blocking is None
    assert "no encryption at host" in report.home.checks[0].problems[0]
    assert report.chosen != first


def test_the_program_stops_before_any_resource_without_the_feature(fake_azure):
    fake_azure.features[("Microsoft.Compute", "EncryptionAtHost")] = "Pending"
    error, registered = offline.run_failing_program(size_config("cpu", encryptionAtHost=True), preflight=True)
    assert isinstance(error, PreflightError) and "is Pending" in str(error)
    assert registered == []


# --- waiting for Azure RBAC to reach the API server ----------------------------------------------


def test_the_wait_returns_as_soon_as_access_is_granted_and_says_so():
    answers = iter([False, False, True])
    logged: list[str] = []
    asked = cluster_access_check.wait_until_allowed(lambda: next(answers), "https://api", sleep=lambda _: None,
                                                    log=logged.append)
    assert asked == 3
    assert logged[0].startswith("waiting for Azure RBAC to admit the deployer to https://api")
    assert logged[-1] == "cluster access granted after about 20 s"


def test_an_unreachable_api_server_points_at_the_authorized_ranges():
    def unreachable() -> bool:
        raise cluster_access_check.ClusterUnreachable("timed out")

    with pytest.raises(RuntimeError, match="kaito-aks:apiServerAuthorizedIpRanges"):
        cluster_access_check.wait_until_allowed(unreachable, "https://api", sleep=lambda _: None, log=lambda _: None)


def test_access_that_never_comes_fails_with_what_to_do():
    with pytest.raises(RuntimeError, match="run `pulumi up` again"):
        cluster_access_check.wait_until_allowed(lambda: False, "https://api", wait_seconds=30, poll_seconds=10,
                                                sleep=lambda _: None, log=lambda _: None)


def self_signed_certificate(common_name: str) -> tuple[bytes, bytes]:
    """A CA certificate valid for 127.0.0.1, and its key, both PEM."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    return (certificate.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


@pytest.fixture
def api_server(tmp_path) -> Iterator[tuple[cluster_access_check.ApiServer, list, list]]:
    """An HTTPS server with a self-signed certificate that answers SelfSubjectAccessReviews as scripted."""
    certificate_pem, key_pem = self_signed_certificate("apiserver")
    (tmp_path / "cert.pem").write_bytes(certificate_pem)
    (tmp_path / "key.pem").write_bytes(key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    answers: list = []
    received: list = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's method name
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append((self.path, self.headers["Authorization"], body))
            status, allowed = answers.pop(0)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps({**body, "status": {"allowed": allowed}}).encode())

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.005}, daemon=True).start()
    # The kubeconfig AKS would return for it.
    kubeconfig = offline.FAKE_KUBECONFIG.replace(
        "https://aks-kaito-aks-test-dns.hcp.eastus.azmk8s.io:443", f"https://127.0.0.1:{server.server_port}"
    ).replace("certificate-authority-data: Y2E=",
              f"certificate-authority-data: {base64.b64encode(certificate_pem).decode()}")
    try:
        yield cluster_access_check.api_server_of(kubeconfig), answers, received
    finally:
        server.shutdown()
        server.server_close()


def test_the_access_probe_asks_the_api_server_over_verified_tls(api_server):
    server, answers, received = api_server
    answers.extend([(201, False), (403, None), (201, True)])
    assert cluster_access_check.may_create_namespaces(server, "token-1") is False
    assert cluster_access_check.may_create_namespaces(server, "token-1") is False  # 403: not known yet
    assert cluster_access_check.may_create_namespaces(server, "token-1") is True
    path, authorization, body = received[0]
    assert path == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
    assert authorization == "Bearer token-1"
    assert body["spec"] == {"resourceAttributes": {"verb": "create", "resource": "namespaces"}}


def test_a_server_presenting_another_certificate_is_not_trusted(api_server):
    server, answers, received = api_server
    answers.append((201, True))
    other_ca, _ = self_signed_certificate("someone-else")
    impostor = cluster_access_check.ApiServer(server.url, other_ca.decode())
    with pytest.raises(cluster_access_check.ClusterUnreachable, match="CERTIFICATE_VERIFY_FAILED"):
        cluster_access_check.may_create_namespaces(impostor, "token-1")
    assert received == []  # the token never left
