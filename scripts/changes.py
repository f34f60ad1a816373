"""What a change to a stack does to its running model, in words, before `pulumi up` does it.

KAITO refuses, or silently ignores, changes to most of a Workspace (components/workspace.py,
IMMUTABLE_FIELDS), so kaito-aks replaces the Workspace instead: the old one is deleted, KAITO's GPU
pool goes with it, and the model is away until the new one is ready. `pulumi preview` shows that as
"replace"; this says which setting caused it and how long the model will be away.

The comparison follows Pulumi's own rule for replaceOnChanges (a changed property under a listed
path replaces; pulumi/pulumi@1a16857a:pkg/resource/deploy/step_generator.go applyReplaceOnChanges,
sdk/go/common/resource/properties_path.go PropertyPath.Contains) plus the Kubernetes provider's
(a new metadata.name or metadata.namespace is a new object). What was deployed comes from
`pulumi stack export` (--state), or from the stack file at another git revision (--against).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from stacks import pulumi_internals

WORKSPACE_TYPE = "kubernetes:kaito.sh/v1beta1:Workspace"
# The Kubernetes provider replaces an object whose name or namespace changes.
IDENTITY_PATHS = ("metadata.name", "metadata.namespace")
# Which setting a changed field comes from, most specific first.
SETTING_OF_FIELD = (
    ("resource.instanceType", "kaito-aks:instanceType (the model's VM size)"),
    ("resource.count", "kaito-aks:nodeCount"),
    ('resource.labelSelector.matchLabels["karpenter.sh/capacity-type"]',
     "kaito-aks:capacityType (how the model's nodes are bought)"),
    ("resource.labelSelector", "kaito-aks:workspaceName"),
    ("inference.preset.name", "kaito-aks:model"),
    ("inference.preset.presetOptions", "kaito-aks:hfToken (whether the Workspace uses a token)"),
    ("inference.preset", "kaito-aks:model"),
    ("inference.template", "the CPU model's server (kaito-aks:model, or a new llama.cpp image)"),
    ("metadata.name", "kaito-aks:workspaceName"),
    ("metadata.namespace", "kaito-aks:namespace"),
)


def leaf_paths(value: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf of a property value by its Pulumi property path (a.b[0].c)."""
    if isinstance(value, dict) and value:
        found: dict[str, Any] = {}
        for key, item in value.items():
            # Pulumi's property paths quote a key that is not a plain name: labels["karpenter.sh/capacity-type"].
            step = (f".{key}" if prefix else key) if re.fullmatch(r"[A-Za-z_$][\w$]*", key) else f'["{key}"]'
            found.update(leaf_paths(item, prefix + step))
        return found
    if isinstance(value, list) and value:
        found = {}
        for index, item in enumerate(value):
            found.update(leaf_paths(item, f"{prefix}[{index}]"))
        return found
    return {prefix: value}


def changed_paths(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    before, after = leaf_paths(_plain(old)), leaf_paths(_plain(new))
    return sorted(path for path in set(before) | set(after) if before.get(path, _ABSENT) != after.get(path, _ABSENT))


def path_parts(path: str) -> list[str]:
    return [part.strip('"') for part in re.split(r'\.|\[(\d+|\*|"[^"]*")\]', path) if part]


def contains(rule: str, path: str) -> bool:
    """Pulumi's PropertyPath.Contains: `rule` is `path` or one of its parents; `*` matches one step."""
    rule_parts, path_parts_ = path_parts(rule), path_parts(path)
    if len(path_parts_) < len(rule_parts):
        return False
    return all(want in ("*", got) for want, got in zip(rule_parts, path_parts_, strict=False))


def planned_operation(old: dict[str, Any], new: dict[str, Any], replace_on_changes: list[str]) -> str:
    """'same', 'update' or 'replace', as the engine would plan it for these inputs."""
    changed = changed_paths(old, new)
    if not changed:
        return "same"
    # The engine checks the provider's detailed paths and its changed top-level keys alike.
    candidates = {*changed, *(path_parts(path)[0] for path in changed)}
    rules = [*replace_on_changes, *IDENTITY_PATHS]
    return "replace" if any(contains(rule, path) for rule in rules for path in candidates) else "update"


def describe_workspace_change(
    old: dict[str, Any] | None, new: dict[str, Any] | None, replace_on_changes: list[str], readiness_minutes: int
) -> list[str]:
    """Sentences for a person: what happens to the running model, and why."""
    if old is None and new is None:
        return []
    if old is None:
        return [f"the model deployment is created: ready in up to {readiness_minutes} minutes"]
    if new is None:
        return ["the model deployment is removed (kaito-aks:paused): the model stops answering and KAITO's GPU "
                "nodes go with it"]
    if planned_operation(old, new, replace_on_changes) != "replace":
        return []
    changed = changed_paths(old, new)
    causes: list[str] = []
    for path in changed:
        setting = next((words for field, words in SETTING_OF_FIELD if contains(field, path)), None)
        if setting is not None and setting not in causes:
            causes.append(setting)
    return [
        f"changing {', '.join(causes) or 'the Workspace'} replaces the model deployment: KAITO refuses that change "
        f"to a running Workspace, so the old one is deleted first and the model is unavailable until the new one "
        f"is ready (up to {readiness_minutes} minutes, kaito-aks's readiness limit for this size)"
    ]


def workspace_in_deployment(deployed: Any) -> dict[str, Any] | None:
    """The deployed Workspace's inputs (scripts/offline.DeployedState); None if there is none."""
    found = [item for item in deployed.resources.values() if item.get("type") == WORKSPACE_TYPE]
    return _plain(found[0].get("inputs") or {}) if found else None


def _plain(value: Any) -> Any:
    """Inputs without Pulumi's bookkeeping (`__defaults`) and secret wrappers, as plain JSON."""
    if pulumi_internals.is_secret_value(value):
        # In a state export a secret is ciphertext: compare it as an opaque marker.
        return _plain(value["value"]) if "value" in value else "[secret]"
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items() if key != "__defaults"}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


_ABSENT = object()


# --- every resource, against a deployed stack ----------------------------------------------------

SECRET = "[secret]"
# Inputs the engine records for an explicit provider besides the program's own.
ENGINE_PROVIDER_INPUTS = ("version", "pluginDownloadURL")


@dataclass(frozen=True)
class ResourceChange:
    """What a preview would plan for one resource: create, update, replace or delete, and the changed inputs."""

    operation: str
    type: str
    name: str
    paths: tuple[str, ...] = ()

    def line(self) -> str:
        mark = {"create": "+", "delete": "-", "update": "~", "replace": "+-"}[self.operation]
        changed = f": {', '.join(self.paths)}" if self.paths else ""
        return f"{mark} {self.operation:<7} {self.type} {self.name}{changed}"


def resource_changes(run: Any, deployed: Any) -> list[ResourceChange]:
    """Each resource of `run` (scripts/offline.ProgramRun) against the deployed stack's recorded inputs
    (scripts/offline.DeployedState), the way the engine pairs them: by URN, or by a former URN an alias names.

    Inputs are compared leaf by leaf; a secret on either side (ciphertext in a state) cannot be compared and
    counts as unchanged. Whether an update happens in place or as a replacement is the provider's call: this
    says "replace" where kaito-aks asks for one (replaceOnChanges) or the Kubernetes provider always makes one
    (a new name or namespace), and "update" otherwise."""
    from scripts.offline import alias_urns

    changes: list[ResourceChange] = []
    matched: set[str] = set()
    for resource in run.resources:
        if resource.type.startswith("kaito-aks:"):
            continue  # components have no inputs of their own
        urns = [resource.urn, *alias_urns(resource)]
        old = deployed.find(urns)
        if old is None:
            changes.append(ResourceChange("create", resource.type, resource.name))
            continue
        matched.add(old["urn"])
        before = _masked(old.get("inputs") or {})
        after = _masked(resource.inputs, set(resource.secret_paths))
        # What the provider's Check filled in (it lists them in __defaults) and what the engine adds to a
        # provider's inputs is not the program's: compare only what the program says.
        for key in [*((old.get("inputs") or {}).get("__defaults") or []),
                    *(ENGINE_PROVIDER_INPUTS if resource.type.startswith("pulumi:providers:") else ())]:
            if key not in after:
                before.pop(key, None)
        paths = [path for path in changed_paths(before, after)
                 if leaf_paths(before).get(path) != SECRET and leaf_paths(after).get(path) != SECRET]
        if not paths:
            continue
        rules = [*resource.replace_on_changes, *(IDENTITY_PATHS if resource.type.startswith("kubernetes:") else ())]
        candidates = {*paths, *(path_parts(path)[0] for path in paths)}
        replaced = any(contains(rule, path) for rule in rules for path in candidates)
        changes.append(ResourceChange("replace" if replaced else "update", resource.type, resource.name, tuple(paths)))
    for urn, old in sorted(deployed.resources.items()):
        if urn in matched or not old.get("custom") or old.get("type", "").startswith("pulumi:"):
            continue  # components, the stack, and the engine's default providers
        changes.append(ResourceChange("delete", old["type"], urn.rsplit("::", 1)[-1]))
    order = {"replace": 0, "delete": 1, "create": 2, "update": 3}
    return sorted(changes, key=lambda change: (order[change.operation], change.type, change.name))


def _masked(inputs: dict[str, Any], secret_paths: set[str] = frozenset()) -> dict[str, Any]:  # type: ignore[assignment]
    """Inputs as plain JSON, with every secret (a program's secret, or ciphertext in a state) as SECRET."""
    def walk(value: Any, path: str) -> Any:
        if path in secret_paths or pulumi_internals.is_secret_value(value) or (
                isinstance(value, dict) and "ciphertext" in value):
            return SECRET
        if isinstance(value, dict):
            return {key: walk(item, f"{path}.{key}" if path else key) for key, item in value.items()
                    if key != "__defaults"}
        if isinstance(value, list):
            return [walk(item, f"{path}[{index}]") for index, item in enumerate(value)]
        return value

    return walk(inputs, "")
