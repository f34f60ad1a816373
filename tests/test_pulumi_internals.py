"""Every private Pulumi SDK internal the project uses, exercised against the pinned SDK.

stacks/pulumi_internals.py is the only module that touches them. When an SDK upgrade renames or
changes one, a test here fails with the name of what moved, instead of a confusing failure deep in
a program run.
"""

from __future__ import annotations

import asyncio
import os

import pulumi
import pytest

from stacks import pulumi_internals


class NoMocks(pulumi.runtime.Mocks):
    def new_resource(self, args):
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args):
        return {}


def test_the_wire_formats_secret_marker_is_what_the_harness_unwraps():
    # What the SDK sends the engine for a secret input, with the mock monitor (which supports secrets).
    from pulumi.runtime import rpc

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        pulumi_internals.start_program_run({}, [], "kaito-aks", "t", False,
                                           pulumi_internals.MockMonitor(NoMocks()))
        struct = pulumi_internals.sync_await(rpc.serialize_properties({"token": pulumi.Output.secret("s3cret")}, {}))
        value = pulumi_internals.deserialize(struct)["token"]
    finally:
        pulumi_internals.finish_program_run()
        pulumi_internals.clear_config()
        asyncio.set_event_loop(None)
        loop.close()
    assert pulumi_internals.is_secret_value(value), value
    assert value["value"] == "s3cret"
    assert not pulumi_internals.is_secret_value({"value": "plain"})


def test_sync_await_runs_a_coroutine_to_completion():
    async def answer() -> int:
        return 42

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        assert pulumi_internals.sync_await(answer()) == 42
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def test_present_config_keys_sees_the_engines_environment_and_the_config_context(monkeypatch):
    monkeypatch.setenv("PULUMI_CONFIG", '{"kaito-aks:modelsize": "small"}')
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        pulumi_internals.start_program_run({"kaito:paused": "true"}, [], "kaito-aks", "t", True,
                                           pulumi_internals.MockMonitor(NoMocks()))
        assert pulumi_internals.present_config_keys() == {"kaito-aks:modelsize", "kaito:paused"}
        assert pulumi.Config("kaito").get("paused") == "true"
    finally:
        pulumi_internals.finish_program_run()
        pulumi_internals.clear_config()
        asyncio.set_event_loop(None)
        loop.close()
    monkeypatch.delenv("PULUMI_CONFIG")
    assert pulumi_internals.present_config_keys() == set()


def test_a_registration_request_carries_every_option_the_harness_reads():
    from pulumi.runtime.proto import resource_pb2

    request = resource_pb2.RegisterResourceRequest(
        type="kubernetes:core/v1:Namespace", name="ns", parent="urn:parent", provider="urn:provider::id",
        ignoreChanges=["spec"], replaceOnChanges=["resource.count"], deleteBeforeReplace=True,
        dependencies=["urn:dep"], protect=True,
    )
    request.customTimeouts.create = "30m"
    request.hooks.after_delete.append("hook")
    request.hooks.after_create.append("created-hook")
    request.aliases.add().urn = "urn:old"
    options = pulumi_internals.registration_options(request)
    assert options == {
        "type": "kubernetes:core/v1:Namespace", "name": "ns", "parent": "urn:parent", "provider": "urn:provider::id",
        "ignore_changes": ["spec"], "replace_on_changes": ["resource.count"], "delete_before_replace": True,
        "dependencies": ["urn:dep"], "custom_timeouts": {"create": "30m", "update": "", "delete": ""},
        "after_delete_hooks": ["hook"], "after_create_hooks": ["created-hook"], "aliases": ["urn:old"], "protect": True,
    }


def test_the_mock_monitor_is_the_sdks():
    from pulumi.runtime import mocks

    assert pulumi_internals.MockMonitor is mocks.MockMonitor
    assert callable(mocks.MockMonitor.RegisterResource)


@pytest.mark.parametrize("name", ["SIG_KEY", "SECRET_SIG"])
def test_the_signature_constants_are_strings(name):
    assert isinstance(getattr(pulumi_internals, name), str) and getattr(pulumi_internals, name)


def test_no_module_but_the_shim_imports_pulumis_private_runtime_modules():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    private = ("pulumi.runtime.rpc", "pulumi.runtime.sync_await", "pulumi.runtime.config", "pulumi.runtime.mocks",
               "pulumi.runtime.settings", "pulumi.runtime.stack", "_special_sig_key", "_sync_await")
    offenders = []
    for folder in ("stacks", "components", "scripts", "tests"):
        for dirpath, _, files in os.walk(os.path.join(root, folder)):
            for filename in files:
                path = os.path.join(dirpath, filename)
                if not filename.endswith(".py") or path.endswith(("pulumi_internals.py", "test_pulumi_internals.py")):
                    continue
                text = open(path, encoding="utf-8").read()
                offenders += [f"{os.path.relpath(path, root)}: {name}" for name in private if name in text]
    assert offenders == []
