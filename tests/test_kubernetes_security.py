"""What runs inside the cluster: images by digest, Pod Security Admission, and who may talk to whom.

Connections are judged by the NetworkPolicy semantics of the Kubernetes API reference (a pod selected by any
policy of a direction is isolated in that direction; a connection passes when some rule of some selecting policy
admits it, and both the sender's egress and the receiver's ingress must pass), applied to the policies the
program renders, so the tests say what traffic is possible rather than how the YAML looks."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from stacks import images
from tests.harness import ProgramRun, program, size_program, stack_config, stack_names

POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
NAMESPACE = "kubernetes:core/v1:Namespace"
DIGEST_PINNED = re.compile(r"[a-z0-9./-]+(:[A-Za-z0-9._-]+)@sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class Pod:
    namespace: str
    labels: Mapping[str, str] = field(default_factory=dict)
    ip: str = "10.244.0.10"


@dataclass(frozen=True)
class Internet:
    ip: str


def _selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    selector = selector or {}
    assert set(selector) <= {"matchLabels"}, f"the evaluator knows matchLabels only: {selector}"
    return all(labels.get(key) == value for key, value in (selector.get("matchLabels") or {}).items())


def _peer_matches(peer: Mapping[str, Any], other: Pod | Internet, policy_namespace: str) -> bool:
    if "ipBlock" in peer:
        # Cilium matches CIDR rules against addresses outside the cluster only (its "world" identity).
        if not isinstance(other, Internet):
            return False
        block = peer["ipBlock"]
        address = ipaddress.ip_address(other.ip)
        return address in ipaddress.ip_network(block["cidr"]) and not any(
            address in ipaddress.ip_network(excluded) for excluded in block.get("except", []))
    if isinstance(other, Internet):
        return False
    if "namespaceSelector" in peer:
        namespace_labels = {"kubernetes.io/metadata.name": other.namespace}
        if not _selects(peer["namespaceSelector"], namespace_labels):
            return False
        return _selects(peer.get("podSelector"), other.labels)
    return other.namespace == policy_namespace and _selects(peer.get("podSelector"), other.labels)


def _port_matches(ports: list[Mapping[str, Any]] | None, port: int, protocol: str) -> bool:
    if not ports:
        return True
    return any(item.get("port") in (None, port) and item.get("protocol", "TCP") == protocol for item in ports)


def _admitted(policies: list[dict], pod: Pod, other: Pod | Internet, port: int, protocol: str, direction: str) -> bool:
    kind, peers_key = ("Ingress", "from") if direction == "ingress" else ("Egress", "to")
    selecting = [p for p in policies if p["namespace"] == pod.namespace and _selects(p["spec"]["podSelector"],
                                                                                     pod.labels)
                 and kind in p["spec"].get("policyTypes", ["Ingress"])]
    if not selecting:
        return True  # not isolated in this direction
    for policy in selecting:
        for rule in policy["spec"].get(direction) or []:
            peers = rule.get(peers_key)
            if (not peers or any(_peer_matches(peer, other, policy["namespace"]) for peer in peers)) and \
                    _port_matches(rule.get("ports"), port, protocol):
                return True
    return False


def can_connect(run: ProgramRun, source: Pod | Internet, target: Pod | Internet, port: int,
                protocol: str = "TCP") -> bool:
    policies = [{"namespace": r.inputs["metadata"]["namespace"], "spec": r.inputs["spec"]} for r in run.of_type(POLICY)]
    out = isinstance(source, Internet) or _admitted(policies, source, target, port, protocol, "egress")
    into = isinstance(target, Internet) or _admitted(policies, target, source, port, protocol, "ingress")
    return out and into


def pods_of(run: ProgramRun) -> dict[str, Pod]:
    """The stack's pods as the cluster would label them."""
    namespace = run.outputs["namespace"]
    workspace = run.outputs["workspaceName"]
    deployment = run.one("kubernetes:apps/v1:Deployment").inputs["spec"]["template"]["metadata"]["labels"]
    job = run.one("kubernetes:batch/v1:Job").inputs["spec"]["template"]["metadata"]["labels"]
    return {
        "model": Pod(namespace, {"kaito.sh/workspace": workspace}),
        "model-2": Pod(namespace, {"kaito.sh/workspace": workspace}, ip="10.244.1.10"),
        "demo-app": Pod(namespace, deployment),
        "smoke-test": Pod(namespace, job),
        "stranger-here": Pod(namespace, {"app": "debug"}),
        "stranger-elsewhere": Pod("default", {"app": "curl"}),
        "kube-dns": Pod("kube-system", {"k8s-app": "kube-dns"}),
        "internet": Internet("151.101.0.1"),
    }


@pytest.mark.parametrize("model_size", ["cpu", "small"])
def test_who_may_reach_whom(model_size):
    run = size_program(model_size)
    pods = pods_of(run)

    def ok(source: str, target: str, port: int, protocol: str = "TCP") -> bool:
        return can_connect(run, pods[source], pods[target], port, protocol)

    # The model's clients reach it, and the model's pods each other on any port (Ray for multi-node vLLM).
    assert ok("demo-app", "model", 5000) and ok("smoke-test", "model", 5000)
    assert ok("model", "model-2", 6379) and ok("model-2", "model", 40123)
    # Nobody else does: not a stray pod in the namespace, not a pod of another namespace.
    assert not ok("stranger-here", "model", 5000) and not ok("stranger-elsewhere", "model", 5000)
    # The clients may resolve names and call the model, nothing more: no internet, no other pod, no other port.
    for client in ("demo-app", "smoke-test"):
        assert ok(client, "kube-dns", 53, "UDP") and ok(client, "kube-dns", 53, "TCP")
        assert not ok(client, "internet", 443) and not ok(client, "stranger-here", 8080)
        assert not ok(client, "model", 22)
    # The model downloads its weights: its egress is not restricted.
    assert ok("model", "internet", 443)
    # The demo app serves its port (a load balancer's own source ranges apply in front); the smoke test
    # and everything else in the namespace accept nothing.
    assert ok("stranger-elsewhere", "demo-app", 8000) and not ok("stranger-elsewhere", "demo-app", 9000)
    assert not ok("demo-app", "smoke-test", 8000) and not ok("model", "stranger-here", 80)


def test_without_the_restriction_any_pod_of_the_cluster_may_call_the_model_and_nothing_more():
    run = size_program("small", restrictModelAccess=False)
    pods = pods_of(run)
    assert can_connect(run, pods["stranger-elsewhere"], pods["model"], 5000)
    assert not can_connect(run, pods["stranger-elsewhere"], pods["model"], 6379)
    assert not can_connect(run, pods["stranger-elsewhere"], pods["smoke-test"], 8000)


def test_clients_start_only_under_their_egress_policy():
    run = size_program("cpu")
    policies = {r.name: r.urn for r in run.of_type(POLICY)}
    assert policies["smoke-test-egress"] in run.one("kubernetes:batch/v1:Job").dependencies
    deployment = run.one("kubernetes:apps/v1:Deployment")
    assert {policies["demo-app-egress"], policies["demo-app-ingress"]} <= set(deployment.dependencies)


@pytest.mark.parametrize("stack", stack_names())
def test_the_namespace_enforces_baseline_and_warns_at_restricted(stack):
    run = program(stack_config(stack), stack=stack, preview=True)
    (model_namespace,) = [ns for ns in run.of_type(NAMESPACE) if ns.name == "model-ns"]
    labels = model_namespace.inputs["metadata"]["labels"]
    assert {key: value for key, value in labels.items() if key.startswith("pod-security")} == {
        "pod-security.kubernetes.io/enforce": "baseline",
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/warn-version": "latest",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/audit-version": "latest",
    }


def test_a_model_whose_pods_mount_a_host_path_gets_a_privileged_namespace():
    run = size_program("large", "upstream", model="deepseek-ai/DeepSeek-V3.2",
                       instanceType="Standard_NC96ads_A100_v4")
    labels = run.named(NAMESPACE, "model-ns").inputs["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"


def _pod_specs(run: ProgramRun) -> list[dict]:
    specs = [r.inputs["spec"]["template"]["spec"] for r in run.resources
             if r.type in ("kubernetes:apps/v1:Deployment", "kubernetes:batch/v1:Job")]
    template = run.one("kubernetes:kaito.sh/v1beta1:Workspace").inputs["inference"].get("template")
    return specs + ([template["spec"]] if template else [])


@pytest.mark.parametrize("stack", stack_names())
def test_every_pod_of_ours_is_pinned_by_digest_and_mounts_no_token(stack):
    run = program(stack_config(stack), stack=stack, preview=True)
    for spec in _pod_specs(run):
        assert spec["automountServiceAccountToken"] is False
        for container in spec["containers"] + spec.get("initContainers", []):
            assert DIGEST_PINNED.fullmatch(container["image"]), container["image"]


def test_the_images_carry_their_tag_next_to_the_digest():
    for image in (images.PYTHON_IMAGE, images.LLAMA_CPP_SERVER_IMAGE):
        assert DIGEST_PINNED.fullmatch(image), image
    assert images.PYTHON_IMAGE.startswith("python:3.12.7-slim-bookworm@")
    assert images.LLAMA_CPP_SERVER_IMAGE.startswith("ghcr.io/ggml-org/llama.cpp:server-b8840@")
