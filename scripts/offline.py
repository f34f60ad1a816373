"""Run the real program (`__main__.py`) under Pulumi mocks and record what it registers.

Used by the tests and by the offline plan (scripts/plan.py): no Azure account, no Pulumi CLI.
Each run gets a fresh event loop, freshly set config and a fresh mock monitor, so runs never leak
into each other; a run is cached by its inputs, so the suite never evaluates the same program run
twice. The mocks answer like the providers would (names, ARM IDs, the OIDC issuer URL, a base64
kubeconfig, a load balancer IP), so no output silently stays unknown. Preflight is off unless asked
for: it needs Azure. The SDK internals this needs live in stacks/pulumi_internals.py.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import gc
import json
import logging
import re
import runpy
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi

from scripts.stack_files import load_stack_config
from stacks import pulumi_internals

ROOT = Path(__file__).resolve().parent.parent
MAIN = ROOT / "__main__.py"
PROJECT = "kaito-aks"
SUBSCRIPTION = "00000000-0000-0000-0000-0000000000aa"
TENANT = "00000000-0000-0000-0000-0000000000bb"
PUBLIC_IP = "20.81.112.7"
FAKE_SSH_PUBLIC_KEY = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAACAQDkaitoakstestkeyonly\n"
DEPLOYER_OBJECT_ID = "00000000-0000-0000-0000-0000000000dd"
# What listClusterUserCredential returns for an Entra ID cluster with format=exec: a kubelogin device-code
# user (Azure/kubelogin#193; Azure/kubelogin@v0.2.19:pkg/internal/converter/convert_test.go). Without
# format=exec AKS answers with the removed `azure` auth-provider, which no current client can use.
FAKE_KUBECONFIG = f"""apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: Y2E=
    server: https://aks-kaito-aks-test-dns.hcp.eastus.azmk8s.io:443
  name: aks-kaito-aks-test
contexts:
- context:
    cluster: aks-kaito-aks-test
    user: clusterUser_rg-kaito-aks-test_aks-kaito-aks-test
  name: aks-kaito-aks-test
current-context: aks-kaito-aks-test
preferences: {{}}
users:
- name: clusterUser_rg-kaito-aks-test_aks-kaito-aks-test
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      args:
      - get-token
      - --environment
      - AzurePublicCloud
      - --server-id
      - 6dae42f8-4368-4678-94ff-3960e28e3630
      - --client-id
      - 80faf920-1908-4b52-b5ef-a8e7bedfc67a
      - --tenant-id
      - {TENANT}
      - --login
      - devicecode
      command: kubelogin
      env: null
      installHint: kubelogin is not installed which is required to connect to AAD enabled cluster.
      provideClusterInfo: false
"""
FAKE_AZURE_AUTH_PROVIDER_KUBECONFIG = FAKE_KUBECONFIG.split("users:")[0] + f"""users:
- name: clusterUser_rg-kaito-aks-test_aks-kaito-aks-test
  user:
    auth-provider:
      config:
        apiserver-id: 6dae42f8-4368-4678-94ff-3960e28e3630
        client-id: 80faf920-1908-4b52-b5ef-a8e7bedfc67a
        config-mode: '1'
        environment: AzurePublicCloud
        tenant-id: {TENANT}
      name: azure
"""


@dataclass
class Registered:
    """One resource registration as the engine would see it."""

    type: str
    name: str
    inputs: dict[str, Any]
    parent: str
    provider: str
    ignore_changes: list[str]
    replace_on_changes: list[str]
    delete_before_replace: bool
    dependencies: list[str]
    custom_timeouts: dict[str, str]
    urn: str
    secret_paths: list[str] = field(default_factory=list)
    after_delete_hooks: list[str] = field(default_factory=list)
    after_create_hooks: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    protect: bool = False
    id: str = ""
    """The ID the mocks (or, replaying a state, the deployed stack) answered with."""
    response_object: Any = field(default=None, repr=False)

    @property
    def outputs(self) -> dict[str, Any]:
        """The outputs the registration was answered with, secrets unwrapped."""
        if self.response_object is None:
            return {}
        return _unwrap_secrets(pulumi_internals.deserialize(self.response_object))


@dataclass
class ProgramRun:
    resources: list[Registered]
    outputs: dict[str, Any]
    secret_outputs: set[str]
    warnings: list[str] = field(default_factory=list)
    hooks: list[str] = field(default_factory=list)
    """Names of the resource hooks the run registered (a hook must be registered by every run that may need it:
    the engine runs an after-delete hook of a resource the program no longer declares only if it is)."""

    def former_urns(self) -> set[str]:
        """Every URN a resource of this run answers to through its aliases."""
        return {urn for resource in self.resources for urn in alias_urns(resource)}

    def of_type(self, type_: str) -> list[Registered]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str) -> Registered:
        found = self.of_type(type_)
        assert len(found) == 1, f"expected one {type_}, got {[r.name for r in found]}"
        return found[0]

    def named(self, type_: str, name: str) -> Registered:
        return next(r for r in self.resources if r.type == type_ and r.name == name)

    def by_urn(self, urn: str) -> Registered:
        return next(r for r in self.resources if r.urn == urn)


def alias_urns(resource: Registered) -> list[str]:
    """The URNs `resource`'s aliases stand for: given whole, or as parts of its own URN replaced."""
    found = []
    prefix, _, rest = resource.urn.partition("::" + PROJECT + "::")
    chain, _, _ = rest.rpartition("::")
    parent_types, _, own_type = chain.rpartition("$")
    for alias in resource.aliases:
        if not alias.startswith("spec:"):
            found.append(alias)
            continue
        parts = dict(item.split("=", 1) for item in alias[len("spec:"):].split(",") if "=" in item)
        name = parts.get("name", resource.name)
        type_ = parts.get("type", own_type)
        if parts.get("noParent") == "True":
            parents = ""
        elif "parentUrn" in parts:
            parents = parts["parentUrn"].rpartition("::")[0].partition("::" + PROJECT + "::")[2]
        else:
            parents = parent_types
        found.append(f"{prefix}::{PROJECT}::{parents + '$' if parents else ''}{type_}::{name}")
    return found


class ProviderLikeMocks(pulumi.runtime.Mocks):
    """Answers like Azure and Kubernetes would for the resources this program creates.

    The subscription, the deployer and the seed of the IDs Azure assigns can be other than the defaults, to
    stand for a real deployment (tests of the comparison with a deployed stack)."""

    subscription = SUBSCRIPTION
    deployer = DEPLOYER_OBJECT_ID
    id_seed = "kaito-aks.test"
    preview = False
    """Set for a dry run, as `pulumi preview`: outputs only a deployment knows are unknown."""

    def _id(self, kind: str, name: str) -> str:
        return _uuid(kind, name) if self.id_seed == "kaito-aks.test" else str(
            uuid.uuid5(uuid.NAMESPACE_DNS, f"{kind}.{name}.{self.id_seed}"))

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        inputs = dict(args.inputs)
        if args.typ == "azure-native:resources:ResourceGroup":
            name = inputs["resourceGroupName"]
            return f"/subscriptions/{self.subscription}/resourceGroups/{name}", {**inputs, "name": name}
        if args.typ == "azure-native:containerservice:ManagedCluster":
            return self._cluster(inputs)
        if args.typ == "azure-native:managedidentity:UserAssignedIdentity":
            name = inputs["resourceName"]
            arm_id = (f"/subscriptions/{self.subscription}/resourceGroups/{inputs['resourceGroupName']}"
                      f"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}")
            return arm_id, {**inputs, "name": name, "clientId": self._id("client", name),
                            "principalId": self._id("principal", name), "tenantId": TENANT}
        if args.typ == "azure-native:network:VirtualNetwork":
            name = inputs["virtualNetworkName"]
            arm_id = (f"/subscriptions/{self.subscription}/resourceGroups/{inputs['resourceGroupName']}"
                      f"/providers/Microsoft.Network/virtualNetworks/{name}")
            return arm_id, {**inputs, "name": name, "resourceGuid": self._id("vnet", name)}
        if args.typ == "azure-native:network:Subnet":
            name = inputs["subnetName"]
            arm_id = (f"/subscriptions/{self.subscription}/resourceGroups/{inputs['resourceGroupName']}"
                      f"/providers/Microsoft.Network/virtualNetworks/{inputs['virtualNetworkName']}/subnets/{name}")
            return arm_id, {**inputs, "name": name}
        if args.typ == "azure-native:authorization:RoleDefinition":
            guid = inputs["roleDefinitionId"]
            arm_id = f"{inputs['scope']}/providers/Microsoft.Authorization/roleDefinitions/{guid}"
            return arm_id, {**inputs, "name": guid}
        if args.typ == "azure-native:authorization:RoleAssignment":
            guid = inputs["roleAssignmentName"]
            arm_id = f"{inputs['scope']}/providers/Microsoft.Authorization/roleAssignments/{guid}"
            return arm_id, {**inputs, "name": guid}
        if args.typ == "random:index/randomString:RandomString":
            return f"{args.name}-id", {**inputs, "result": _token(args.name, inputs["length"])}
        if args.typ == "random:index/randomPassword:RandomPassword":
            return f"{args.name}-id", {**inputs, "result": _token(args.name, inputs["length"])}
        if args.typ == "tls:index/privateKey:PrivateKey":
            return f"{args.name}-id", {**inputs, "publicKeyOpenssh": FAKE_SSH_PUBLIC_KEY,
                                        "privateKeyPem": "-----BEGIN RSA PRIVATE KEY-----\nnot-a-key\n"}
        if args.typ == "kubernetes:helm.sh/v3:Release":
            return f"{inputs.get('namespace')}/{inputs.get('name')}", {
                **inputs,
                "status": {"status": "deployed", "namespace": inputs.get("namespace"), "name": inputs.get("name")},
            }
        if args.typ == "azure-native:storage:StorageAccount":
            name = inputs["accountName"]
            arm_id = (f"/subscriptions/{self.subscription}/resourceGroups/{inputs['resourceGroupName']}"
                      f"/providers/Microsoft.Storage/storageAccounts/{name}")
            return arm_id, {**inputs, "name": name,
                            "primaryEndpoints": {"blob": f"https://{name}.blob.core.windows.net/"}}
        if args.typ == "azure-native:storage:BlobContainer":
            name = inputs["containerName"]
            arm_id = (f"/subscriptions/{self.subscription}/resourceGroups/{inputs['resourceGroupName']}"
                      f"/providers/Microsoft.Storage/storageAccounts/{inputs['accountName']}/blobServices/default"
                      f"/containers/{name}")
            return arm_id, {**inputs, "name": name}
        if args.typ in _ARM_RESOURCES:
            return self._arm_resource(args.typ, inputs)
        if args.typ == "pulumi-python:dynamic:Resource" and "dashboard_json" in inputs:
            # What Grafana answers to POST /api/dashboards/db: the dashboard's path, /d/<uid>/<slug of the title>.
            board = json.loads(inputs["dashboard_json"])
            slug = re.sub(r"[^a-z0-9]+", "-", board["title"].lower()).strip("-")
            return board["uid"], {**inputs, "url": f"{inputs['endpoint'].rstrip('/')}/d/{board['uid']}/{slug}"}
        if args.typ == "kubernetes:core/v1:Pod":
            # A preview knows nothing of a pod's status yet; after `pulumi up`, pulumi-kubernetes has waited for
            # it to succeed. kaito-aks's only bare Pod is the smoke test's measurement: it answers with the one
            # measured against a real model in ./scripts/test-e2e.
            inputs["status"] = pulumi_internals.UNKNOWN if self.preview else {
                "phase": "Succeeded",
                "containerStatuses": [{"name": "measure", "ready": False, "restartCount": 0, "state": {
                    "terminated": {"exitCode": 0, "reason": "Completed", "message": RECORDED_MEASUREMENT}}}],
            }
        if args.typ.startswith("kubernetes:"):
            metadata = dict(inputs.get("metadata") or {})
            if args.typ == "kubernetes:core/v1:Service" and inputs.get("spec", {}).get("type") == "LoadBalancer":
                inputs["status"] = {"loadBalancer": {"ingress": [{"ip": PUBLIC_IP}]}}
            namespace = metadata.get("namespace")
            ident = f"{namespace}/{metadata.get('name')}" if namespace else metadata.get("name")
            return ident, {**inputs, "metadata": {**metadata, "uid": f"uid-{args.name}"}}
        return f"{args.name}-id", inputs

    def _arm_resource(self, type_: str, inputs: dict[str, Any]) -> tuple[str, dict]:
        """An ARM ID in the resource group (or, for an association, under the resource it extends), and the
        properties Azure adds that the program reads."""
        provider, name_input = _ARM_RESOURCES[type_]
        name = inputs[name_input]
        if type_ == "azure-native:monitor:DataCollectionRuleAssociation":
            arm_id = f"{inputs['resourceUri']}/providers/{provider}/{name}"
        else:
            arm_id = (f"/subscriptions/{self.subscription}/resourceGroups/{inputs['resourceGroupName']}"
                      f"/providers/{provider}/{name}")
        outputs = {**inputs, "name": name}
        if type_ == "azure-native:dashboard:Grafana":
            outputs["identity"] = {**inputs.get("identity", {}), "principalId": self._id("principal", arm_id),
                                   "tenantId": TENANT}
            host = f"{name}-{self._id('grafana', name)[:8]}.eus.grafana.azure.com"
            outputs["properties"] = {**inputs.get("properties", {}), "endpoint": f"https://{host}"}
        if type_ == "azure-native:operationalinsights:Workspace":
            outputs["customerId"] = self._id("workspace", name)
        return arm_id, outputs

    def _cluster(self, inputs: dict[str, Any]) -> tuple[str, dict]:
        name = inputs["resourceName"]
        group = inputs["resourceGroupName"]
        location = inputs.get("location", "eastus")
        arm_id = (f"/subscriptions/{self.subscription}/resourceGroups/{group}"
                  f"/providers/Microsoft.ContainerService/managedClusters/{name}")
        node_group = f"MC_{group}_{name}_{location}"
        kubelet = f"{name}-agentpool"
        oidc = {**inputs.get("oidcIssuerProfile", {}),
                "issuerURL": f"https://{location}.oic.prod-aks.azure.com/{TENANT}/4f1b2c3d-0000-4000-8000-00000000c1a5/"}
        identity = dict(inputs.get("identity") or {})
        if "userAssignedIdentities" in identity:
            # Given as a list of identity IDs, answered as a map of them to their principal and client IDs.
            identity["userAssignedIdentities"] = {
                assigned: {"principalId": self._id("principal", assigned), "clientId": self._id("client", assigned)}
                for assigned in identity["userAssignedIdentities"]
            }
        return arm_id, {
            **inputs,
            "identity": identity,
            "name": name,
            "oidcIssuerProfile": oidc,
            "nodeResourceGroup": node_group,
            "fqdn": f"{name}-dns-4f1b2c3d.hcp.{location}.azmk8s.io",
            "identityProfile": {"kubeletidentity": {
                "resourceId": (f"/subscriptions/{self.subscription}/resourcegroups/{node_group}/providers/"
                               f"Microsoft.ManagedIdentity/userAssignedIdentities/{kubelet}"),
                "clientId": self._id("client", kubelet),
                "objectId": self._id("principal", kubelet),
            }},
            "provisioningState": "Succeeded",
        }

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        if args.token == "azure-native:containerservice:listManagedClusterUserCredentials":
            text = FAKE_KUBECONFIG if args.args.get("format") == "exec" else FAKE_AZURE_AUTH_PROVIDER_KUBECONFIG
            return {"kubeconfigs": [{"name": "clusterUser", "value": base64.b64encode(text.encode()).decode()}]}
        if args.token == "azure-native:authorization:getClientConfig":
            return {"clientId": self._id("client", "deployer"), "objectId": self.deployer,
                    "subscriptionId": self.subscription, "tenantId": TENANT}
        raise AssertionError(f"the program made an unexpected call: {args.token}")


# The smoke test's measurement at its defaults (4 streams of 128 tokens) as SmolLM2-135M-Instruct answered it,
# served by llama-cpp-python on two CPU cores (the server tests_e2e/conftest.py starts), on 2026-11-27: the shape
# and scale of what a real measurement pod leaves.
RECORDED_MEASUREMENT = json.dumps({
    "countedFrom": "stream chunks", "maxTokensPerStream": 128, "outputTokens": 512, "outputTokensPerSecond": 65.72,
    "seconds": 7.79, "streams": 4, "ttftMaxSeconds": 5.186, "ttftP50Seconds": 2.377}, sort_keys=True)

# Azure resources whose ARM ID the program passes on (scopes, associations, integrations): type -> (provider
# and resource type in the ID, the input naming it).
_ARM_RESOURCES = {
    "azure-native:monitor:AzureMonitorWorkspace": ("Microsoft.Monitor/accounts", "azureMonitorWorkspaceName"),
    "azure-native:operationalinsights:Workspace": ("Microsoft.OperationalInsights/workspaces", "workspaceName"),
    "azure-native:monitor:DataCollectionEndpoint": ("Microsoft.Insights/dataCollectionEndpoints",
                                                    "dataCollectionEndpointName"),
    "azure-native:monitor:DataCollectionRule": ("Microsoft.Insights/dataCollectionRules", "dataCollectionRuleName"),
    "azure-native:monitor:DataCollectionRuleAssociation": ("Microsoft.Insights/dataCollectionRuleAssociations",
                                                           "associationName"),
    "azure-native:monitor:ActionGroup": ("Microsoft.Insights/actionGroups", "actionGroupName"),
    "azure-native:alertsmanagement:PrometheusRuleGroup": ("Microsoft.AlertsManagement/prometheusRuleGroups",
                                                          "ruleGroupName"),
    "azure-native:dashboard:Grafana": ("Microsoft.Dashboard/grafana", "workspaceName"),
}


def _token(name: str, length: int) -> str:
    """A stable lower-case alphanumeric string, as pulumi-random would make (once) for these options."""
    return (uuid.uuid5(uuid.NAMESPACE_DNS, f"token.{name}").hex * 2)[:int(length)]


def _uuid(kind: str, name: str) -> str:
    """A stable, realistic GUID for an ID Azure would assign."""
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{kind}.{name}.kaito-aks.test"))


class DeployedState:
    """A deployed stack's resources by URN, from `pulumi stack export` or the state backend's own checkpoint
    file (.pulumi/stacks/<project>/<stack>.json[.gz]; pulumi/pulumi@v3.259.0:pkg/backend/diy/store.go and
    sdk/go/common/apitype/core.go: {"version", "checkpoint": {"latest": <deployment>}} vs an export's
    {"version", "deployment"})."""

    def __init__(self, resources: list[dict[str, Any]]) -> None:
        self.resources = {item["urn"]: item for item in resources if not item.get("delete")}

    @classmethod
    def parse(cls, data: bytes, source: str = "state") -> DeployedState:
        import gzip

        try:
            document = json.loads(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data)
        except (OSError, ValueError) as error:
            raise ValueError(f"{source} is neither a `pulumi stack export` nor a Pulumi checkpoint: {error}") from None
        deployment = document.get("deployment") if isinstance(document, dict) else None
        if deployment is None and isinstance(document, dict):
            deployment = (document.get("checkpoint") or {}).get("latest")
        if not isinstance(deployment, dict):
            raise ValueError(f"{source} is neither a `pulumi stack export` nor a Pulumi checkpoint (no deployment)")
        return cls(list(deployment.get("resources") or []))

    def find(self, urns: list[str]) -> dict[str, Any] | None:
        return next((self.resources[urn] for urn in urns if urn in self.resources), None)

    def inputs_of(self, urn_suffix: str) -> dict[str, Any] | None:
        found = [item for urn, item in self.resources.items() if urn.endswith(urn_suffix)]
        return found[0].get("inputs") if found else None


class DeployedStateMocks(ProviderLikeMocks):
    """The mocks, except that a resource the deployed stack has is answered with its recorded ID and outputs,
    and the deployer is whoever the stack's deployer role assignment names: inputs computed from other
    resources' outputs come out as they would in a real preview. Secret outputs (ciphertext in a state) keep
    the mocks' stand-ins."""

    def __init__(self, deployed: DeployedState) -> None:
        self.deployed = deployed
        self.registering = threading.local()

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        mock_id, outputs = super().new_resource(args)
        deployed = self.deployed.find(getattr(self.registering, "urns", []))
        if deployed is None or not deployed.get("id"):
            return mock_id, outputs
        recorded = {key: value for key, value in (deployed.get("outputs") or {}).items()
                    if not _is_ciphertext(value)}
        return deployed["id"], {**outputs, **recorded}

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        answer = super().call(args)
        if args.token == "azure-native:authorization:getClientConfig":
            deployer = self.deployed.inputs_of("::cluster-deployer-rbac-cluster-admin")
            if deployer and isinstance(deployer.get("principalId"), str):
                answer = {**answer, "objectId": deployer["principalId"]}
        return answer


def _is_ciphertext(value: Any) -> bool:
    return pulumi_internals.is_secret_value(value) or (isinstance(value, dict) and "ciphertext" in value)


class RecordingMonitor(pulumi_internals.MockMonitor):
    """The mock monitor, keeping each registration's options as well as its inputs."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registered] = []
        self.hooks: list[str] = []

    def RegisterResourceHook(self, request):  # noqa: N802 - gRPC method name
        self.hooks.append(request.name)
        return super().RegisterResourceHook(request)

    def RegisterResource(self, request):  # noqa: N802 - gRPC method name
        if isinstance(self.mocks, DeployedStateMocks):
            # The SDK registers from a thread pool: the URN travels with the thread to new_resource.
            self.mocks.registering.urns = [self.make_urn(request.parent, request.type, request.name),
                                           *(alias.urn for alias in request.aliases if alias.urn)]
        response = super().RegisterResource(request)
        options = pulumi_internals.registration_options(request)
        if options["type"] != "pulumi:pulumi:Stack":
            raw = pulumi_internals.deserialize(request.object)
            self.registrations.append(
                Registered(**options, inputs=_unwrap_secrets(raw), urn=response.urn, secret_paths=_secret_paths(raw),
                           id=response.id, response_object=response.object)
            )
        return response


class _Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _unwrap_secrets(value: Any) -> Any:
    """Plain values as the program gave them: secrets unwrapped, whole numbers back to int
    (the wire format carries every number as a double)."""
    if pulumi_internals.is_secret_value(value):
        return _unwrap_secrets(value["value"])
    if isinstance(value, dict):
        return {k: _unwrap_secrets(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_unwrap_secrets(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _secret_paths(value: Any, path: str = "") -> list[str]:
    if pulumi_internals.is_secret_value(value):
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _secret_paths(v, f"{path}.{k}" if path else k)]
    return []


def stack_config(stack: str) -> dict[str, str]:
    """The config of Pulumi.<stack>.yaml (with project defaults), as Pulumi hands it to the program."""
    return dict(load_stack_config(stack))


_RUNS: dict[str, tuple[list[Registered], Any, list[str], list[str]]] = {}


def run_program(
    config: dict[str, Any],
    stack: str = "test",
    secret_keys: tuple[str, ...] = (),
    preview: bool = False,
    preflight: bool = False,
) -> ProgramRun:
    """Run __main__.py once with `config` (full keys, e.g. 'kaito-aks:modelSize') under mocks.

    `preview` runs it as `pulumi preview` does (a dry run); otherwise as `pulumi up`. Preflight stays
    off unless asked for (a test then supplies fake Azure answers). Same arguments, same (cached) run:
    the registrations are shared between callers, so treat them as read-only."""
    registrations, result, warnings, hooks = _cached(config, stack, secret_keys, preview, preflight)
    if isinstance(result, BaseException):
        raise result
    outputs, secret_outputs = result
    return ProgramRun(registrations, outputs, secret_outputs, warnings, hooks)


def run_failing_program(
    config: dict[str, Any], stack: str = "test", preflight: bool = False, preview: bool = False
) -> tuple[BaseException, list[Registered]]:
    """Run __main__.py expecting it to fail; return the error and whatever was registered first."""
    registrations, result, _, _ = _cached(config, stack, (), preview, preflight)
    assert isinstance(result, BaseException), "the program was expected to fail but succeeded"
    return result, registrations


def run_program_afresh(config: dict[str, Any], stack: str = "test", secret_keys: tuple[str, ...] = (),
                       preview: bool = False) -> ProgramRun:
    """A second, uncached evaluation: only for proving that a run is deterministic."""
    registrations, result, warnings, hooks = _run(config, stack, secret_keys, preview, False)
    if isinstance(result, BaseException):
        raise result
    return ProgramRun(registrations, *result, warnings, hooks)


def run_program_against(config: dict[str, Any], deployed: DeployedState, stack: str,
                        secret_keys: tuple[str, ...] = ()) -> ProgramRun:
    """A preview of `config` where what the deployed stack has is answered from its state (uncached)."""
    return run_program_with(config, DeployedStateMocks(deployed), stack, secret_keys, preview=True)


def run_program_with(config: dict[str, Any], mocks: ProviderLikeMocks, stack: str = "test",
                     secret_keys: tuple[str, ...] = (), preview: bool = False) -> ProgramRun:
    """A run answered by other mocks than the default (uncached)."""
    registrations, result, warnings, hooks = _run(config, stack, secret_keys, preview, False, mocks)
    if isinstance(result, BaseException):
        raise result
    return ProgramRun(registrations, *result, warnings, hooks)


def state_export(run: ProgramRun) -> dict[str, Any]:
    """What `pulumi stack export` would hold after `pulumi up` of `run` (secrets as ciphertext), for tests and
    for trying the comparison without a deployed stack."""
    # Outputs the providers mark secret themselves (pulumi-random's result, pulumi-tls's private key).
    provider_secrets = {"result", "privateKeyPem", "privateKeyOpenssh", "privateKeyPemPkcs8"}

    def encrypt(value: Any, secret_paths: list[str], path: str = "") -> Any:
        if path in secret_paths:
            return {pulumi_internals.SIG_KEY: pulumi_internals.SECRET_SIG, "ciphertext": "v1:c2VjcmV0"}
        if isinstance(value, dict):
            # What a preview could not know is not in a state either.
            return {key: encrypt(item, secret_paths, f"{path}.{key}" if path else key) for key, item in value.items()
                    if not pulumi_internals.is_unknown(item)}
        return value

    resources = [{
        "urn": resource.urn, "custom": not resource.type.startswith(f"{PROJECT}:"), "id": resource.id,
        "type": resource.type, "inputs": encrypt(resource.inputs, resource.secret_paths),
        "outputs": encrypt(resource.outputs, [*resource.secret_paths, *provider_secrets]), "parent": resource.parent,
    } for resource in run.resources]
    return {"version": 3, "deployment": {"manifest": {}, "resources": resources}}


def _cached(config: dict[str, Any], stack: str, secret_keys: tuple[str, ...], preview: bool,
            preflight: bool) -> tuple[list[Registered], Any, list[str], list[str]]:
    if preflight:  # fake Azure answers differ between tests: never cached
        return _run(config, stack, secret_keys, preview, preflight)
    key = json.dumps([config, stack, sorted(secret_keys), preview], sort_keys=True, default=str)
    if key not in _RUNS:
        _RUNS[key] = _run(config, stack, secret_keys, preview, preflight)
    return _RUNS[key]


def _run(
    config: dict[str, Any], stack: str, secret_keys: tuple[str, ...], preview: bool, preflight: bool,
    mocks: ProviderLikeMocks | None = None,
) -> tuple[list[Registered], Any, list[str], list[str]]:
    loop = asyncio.new_event_loop()
    # The SDK hands every call to the engine to a thread; the mocks answer at once, so answer in place: a thread
    # switch per registration costs more than the answer.
    loop.set_default_executor(_InPlaceExecutor())
    asyncio.set_event_loop(loop)
    # A run makes tens of thousands of short-lived objects (Outputs, futures) and no cycles worth chasing
    # while it lasts: collect once at the end instead of dozens of times during it.
    gc.disable()
    mocks = mocks or ProviderLikeMocks()
    mocks.preview = preview
    monitor = RecordingMonitor(mocks)
    warnings = _Warnings()
    logger = logging.getLogger(f"kaito-aks.offline.{id(warnings)}")
    logger.propagate = False
    logger.addHandler(warnings)
    try:
        texts = {key: value if isinstance(value, str) else json.dumps(value) for key, value in config.items()}
        texts[f"{PROJECT}:preflight"] = "true" if preflight else "false"
        root = pulumi_internals.start_program_run(texts, list(secret_keys), PROJECT, stack, preview, monitor, logger)
        try:
            runpy.run_path(str(MAIN), run_name="__main__")
        except Exception as error:  # noqa: BLE001 - handed back to the caller to assert on
            pulumi_internals.finish_program_run()
            return monitor.registrations, error, warnings.messages, monitor.hooks
        resolved = pulumi_internals.sync_await(_resolve_exports(root.outputs))
        pulumi_internals.finish_program_run()
        return monitor.registrations, resolved, warnings.messages, monitor.hooks
    finally:
        pulumi_internals.clear_config()
        logger.removeHandler(warnings)
        asyncio.set_event_loop(None)
        loop.close()
        # Move the run's objects out of the collector's way before it is back on: otherwise the first allocation
        # after the run walks them all (young generation of hundreds of thousands of objects). A test session or a
        # plan is short-lived, so keeping a run's garbage (a few MB) is cheaper than collecting it.
        gc.freeze()
        gc.enable()


class _InPlaceExecutor(concurrent.futures.ThreadPoolExecutor):
    """Runs what it is given at once, in the calling thread (asyncio accepts only a ThreadPoolExecutor)."""

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        future: concurrent.futures.Future = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # noqa: BLE001 - handed back through the future, as a thread would
            future.set_exception(error)
        return future


async def _resolve_exports(exports: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    values: dict[str, Any] = {}
    secrets: set[str] = set()
    for name, value in exports.items():
        output = pulumi.Output.from_input(value)
        values[name] = await output.future()
        if await output.is_secret():
            secrets.add(name)
    return values, secrets
