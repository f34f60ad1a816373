"""Run the real program (`__main__.py`) under Pulumi mocks and record what it registers.

Used by the tests and by the offline plan (stacks/plan.py): no Azure account, no Pulumi CLI.
Each run gets a fresh event loop, freshly set config and a fresh mock monitor, so runs never leak
into each other. The mocks answer like the providers would (names, ARM IDs, the OIDC issuer URL,
a base64 kubeconfig, a load balancer IP), so no output silently stays unknown. Preflight is off:
it needs Azure.
"""

from __future__ import annotations

import asyncio
import base64
import json
import runpy
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings as runtime_settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.sync_await import _sync_await

from stacks.stack_files import load_stack_config

ROOT = Path(__file__).resolve().parent.parent
MAIN = ROOT / "__main__.py"
PROJECT = "kaito-aks"
SUBSCRIPTION = "00000000-0000-0000-0000-0000000000aa"
TENANT = "00000000-0000-0000-0000-0000000000bb"
PUBLIC_IP = "20.81.112.7"
FAKE_KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- cluster: {server: 'https://aks-kaito-aks-test-dns.hcp.eastus.azmk8s.io:443', certificate-authority-data: Y2E=}
  name: aks
contexts:
- context: {cluster: aks, user: clusterUser}
  name: aks
current-context: aks
users:
- name: clusterUser
  user: {token: not-a-real-token}
"""
SIG_KEY = rpc._special_sig_key  # type: ignore[attr-defined]
SECRET_SIG = rpc._special_secret_sig  # type: ignore[attr-defined]


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


@dataclass
class ProgramRun:
    resources: list[Registered]
    outputs: dict[str, Any]
    secret_outputs: set[str]

    def of_type(self, type_: str) -> list[Registered]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str) -> Registered:
        found = self.of_type(type_)
        assert len(found) == 1, f"expected one {type_}, got {[r.name for r in found]}"
        return found[0]

    def by_urn(self, urn: str) -> Registered:
        return next(r for r in self.resources if r.urn == urn)


class ProviderLikeMocks(pulumi.runtime.Mocks):
    """Answers like Azure and Kubernetes would for the resources this program creates."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[Optional[str], dict]:
        inputs = dict(args.inputs)
        if args.typ == "azure-native:resources:ResourceGroup":
            name = inputs["resourceGroupName"]
            return f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{name}", {**inputs, "name": name}
        if args.typ == "azure-native:containerservice:ManagedCluster":
            name = inputs["resourceName"]
            group = inputs["resourceGroupName"]
            arm_id = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/Microsoft.ContainerService/managedClusters/{name}"
            oidc = {**inputs.get("oidcIssuerProfile", {}), "issuerURL": f"https://eastus.oic.prod-aks.azure.com/{TENANT}/4f1b2c3d-0000-4000-8000-00000000c1a5/"}
            state = {
                **inputs,
                "name": name,
                "oidcIssuerProfile": oidc,
                "nodeResourceGroup": f"MC_{group}_{name}_{inputs.get('location', 'eastus')}",
                "fqdn": f"{name}-dns.hcp.eastus.azmk8s.io",
                "provisioningState": "Succeeded",
            }
            return arm_id, state
        if args.typ == "azure-native:managedidentity:UserAssignedIdentity":
            name = inputs["resourceName"]
            arm_id = (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{inputs['resourceGroupName']}"
                      f"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}")
            return arm_id, {**inputs, "name": name, "clientId": _uuid("client", name),
                            "principalId": _uuid("principal", name), "tenantId": TENANT}
        if args.typ == "kubernetes:helm.sh/v3:Release":
            return f"{inputs.get('namespace')}/{inputs.get('name')}", {
                **inputs, "status": {"status": "deployed", "namespace": inputs.get("namespace"), "name": inputs.get("name")}}
        if args.typ.startswith("kubernetes:"):
            metadata = dict(inputs.get("metadata") or {})
            if args.typ == "kubernetes:core/v1:Service" and inputs.get("spec", {}).get("type") == "LoadBalancer":
                inputs["status"] = {"loadBalancer": {"ingress": [{"ip": PUBLIC_IP}]}}
            namespace = metadata.get("namespace")
            ident = f"{namespace}/{metadata.get('name')}" if namespace else metadata.get("name")
            return ident, {**inputs, "metadata": {**metadata, "uid": f"uid-{args.name}"}}
        if args.typ == "pulumi:providers:kubernetes":
            return f"{args.name}-id", inputs
        return f"{args.name}-id", inputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        if args.token == "azure-native:containerservice:listManagedClusterUserCredentials":
            value = base64.b64encode(FAKE_KUBECONFIG.encode()).decode()
            return {"kubeconfigs": [{"name": "clusterUser", "value": value}]}
        raise AssertionError(f"the program made an unexpected call: {args.token}")


def _uuid(kind: str, name: str) -> str:
    """A stable, realistic GUID for an ID Azure would assign."""
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{kind}.{name}.kaito-aks.test"))


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The mock monitor, keeping each registration's options as well as its inputs."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registered] = []

    def RegisterResource(self, request):  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            raw = rpc.deserialize_properties(request.object, keep_unknowns=True)
            self.registrations.append(
                Registered(
                    type=request.type,
                    name=request.name,
                    inputs=_unwrap_secrets(raw),
                    parent=request.parent,
                    provider=request.provider,
                    ignore_changes=list(request.ignoreChanges),
                    replace_on_changes=list(request.replaceOnChanges),
                    delete_before_replace=request.deleteBeforeReplace,
                    dependencies=list(request.dependencies),
                    custom_timeouts={
                        "create": request.customTimeouts.create,
                        "update": request.customTimeouts.update,
                        "delete": request.customTimeouts.delete,
                    },
                    urn=response.urn,
                    secret_paths=_secret_paths(raw),
                    after_delete_hooks=list(request.hooks.after_delete),
                )
            )
        return response


def _is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG


def _unwrap_secrets(value: Any) -> Any:
    """Plain values as the program gave them: secrets unwrapped, whole numbers back to int
    (the wire format carries every number as a double)."""
    if _is_secret(value):
        return _unwrap_secrets(value["value"])
    if isinstance(value, dict):
        return {k: _unwrap_secrets(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_unwrap_secrets(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _secret_paths(value: Any, path: str = "") -> list[str]:
    if _is_secret(value):
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _secret_paths(v, f"{path}.{k}" if path else k)]
    return []


def stack_config(stack: str) -> dict[str, Any]:
    """The config of Pulumi.<stack>.yaml (with project defaults), as Pulumi hands it to the program."""
    return dict(load_stack_config(stack))


def run_program(
    config: dict[str, Any],
    stack: str = "test",
    secret_keys: tuple[str, ...] = (),
    preview: bool = False,
    preflight: bool = False,
) -> ProgramRun:
    """Run __main__.py once with `config` (full keys, e.g. 'kaito-aks:modelSize') under mocks.

    Preflight stays off unless asked for (a test then supplies fake Azure answers)."""
    registrations, result = _run(config, stack, secret_keys, preview, preflight)
    if isinstance(result, BaseException):
        raise result
    outputs, secret_outputs = result
    return ProgramRun(registrations, outputs, secret_outputs)


def run_failing_program(
    config: dict[str, Any], stack: str = "test", preflight: bool = False
) -> tuple[BaseException, list[Registered]]:
    """Run __main__.py expecting it to fail; return the error and whatever was registered first."""
    registrations, result = _run(config, stack, (), False, preflight)
    assert isinstance(result, BaseException), "the program was expected to fail but succeeded"
    return result, registrations


def _run(
    config: dict[str, Any], stack: str, secret_keys: tuple[str, ...], preview: bool, preflight: bool
) -> tuple[list[Registered], Any]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    monitor = RecordingMonitor(ProviderLikeMocks())
    try:
        texts = {key: value if isinstance(value, str) else json.dumps(value) for key, value in config.items()}
        texts[f"{PROJECT}:preflight"] = "true" if preflight else "false"
        set_all_config(texts, list(secret_keys))
        runtime_settings.reset_options(project=PROJECT, stack=stack)
        pulumi_mocks.set_mocks(monitor.mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor)
        root = runtime_settings.get_root_resource()
        try:
            runpy.run_path(str(MAIN), run_name="__main__")
        except Exception as error:  # noqa: BLE001 - handed back to the caller to assert on
            _sync_await(pulumi.runtime.stack.wait_for_rpcs())
            return monitor.registrations, error
        resolved = _sync_await(_resolve_exports(root.outputs))  # type: ignore[union-attr]
        _sync_await(pulumi.runtime.stack.wait_for_rpcs())
        return monitor.registrations, resolved
    finally:
        set_all_config({}, [])
        asyncio.set_event_loop(None)
        loop.close()


async def _resolve_exports(exports: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    values: dict[str, Any] = {}
    secrets: set[str] = set()
    for name, value in exports.items():
        output = pulumi.Output.from_input(value)
        values[name] = await output.future()
        if await output.is_secret():
            secrets.add(name)
    return values, secrets
