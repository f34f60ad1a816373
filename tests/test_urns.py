"""Golden URNs: a refactor that would change a resource's URN (and so replace it, a cluster included,
on every deployed stack) fails here.

A URN is type, name and parent chain. When a change really must move a resource, give it
`aliases=[...]` with its old URN or name so deployed stacks keep it, then record the new URNs:

    UPDATE_GOLDEN=1 ./scripts/test tests/test_urns.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.harness import MODEL_SIZES, program, size_config, stack_config, stack_names

GOLDEN = Path(__file__).parent / "golden" / "urns.json"


def cases() -> dict[str, tuple[dict, str]]:
    found = {f"stack {stack}": (stack_config(stack), stack) for stack in stack_names()}
    for model_size in MODEL_SIZES:
        found[f"addon {model_size}"] = (size_config(model_size), "test")
        # Upstream stacks deployed before Karpenter keep the gpu-provisioner, and their URNs.
        legacy = size_config(model_size, "upstream", nodeProvisioner="gpu-provisioner")
        found[f"upstream {model_size}"] = (legacy, "test")
        found[f"upstream karpenter {model_size}"] = (size_config(model_size, "upstream"), "test")
    return found


def test_every_resource_keeps_its_urn():
    # Stack files are previewed (their documentation placeholders would stop an update); the size configs run as
    # the other tests run them, so the suite evaluates each once. URNs do not depend on preview or update.
    runs = {name: program(config, stack=stack, preview=name.startswith("stack "))
            for name, (config, stack) in cases().items()}
    if os.environ.get("UPDATE_GOLDEN") == "1":
        current = {name: sorted(resource.urn for resource in run.resources) for name, run in runs.items()}
        GOLDEN.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
        pytest.skip("golden URNs rewritten")
    recorded = json.loads(GOLDEN.read_text())
    for name, run in runs.items():
        if name not in recorded:
            continue  # a stack file added since the record: nothing of it is deployed under old URNs
        answered = {resource.urn for resource in run.resources} | run.former_urns()
        gone = sorted(set(recorded[name]) - answered)
        assert not gone, (
            f"{name}: these resources would be replaced on a deployed stack (their URN changed or they went "
            f"away): {gone}; add aliases, or, if intended, UPDATE_GOLDEN=1 ./scripts/test tests/test_urns.py"
        )


def test_an_alias_by_name_answers_for_the_old_urn():
    from scripts.offline import Registered, alias_urns

    moved = Registered(
        type="kubernetes:core/v1:Namespace", name="model-namespace", inputs={}, parent="", provider="",
        ignore_changes=[], replace_on_changes=[], delete_before_replace=False, dependencies=[], custom_timeouts={},
        urn="urn:pulumi:dev::kaito-aks::kaito-aks:workspace:KaitoWorkspace$kubernetes:core/v1:Namespace::model-namespace",
        aliases=["spec:name=model-ns", "urn:pulumi:dev::kaito-aks::kubernetes:core/v1:Namespace::ns"],
    )
    assert alias_urns(moved) == [
        "urn:pulumi:dev::kaito-aks::kaito-aks:workspace:KaitoWorkspace$kubernetes:core/v1:Namespace::model-ns",
        "urn:pulumi:dev::kaito-aks::kubernetes:core/v1:Namespace::ns",
    ]
