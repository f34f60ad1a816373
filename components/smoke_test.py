"""SmokeTest: a Job that asks the model one question, so `pulumi up` fails unless it answers; then a Pod that
measures it under a short bounded load, whose result `pulumi up` reads back.

The measurement is a bare Pod, not a Job: pulumi-kubernetes waits for a Pod until it is Ready or has Succeeded
and returns its status, termination message included (pulumi/pulumi-kubernetes@v4.32.0:provider/pkg/await/
checker/pod/check.go podReady, the newest source stored here for the 4.34.2 pinned), while a Job's status holds
no message. The script always exits 0, so the Pod always succeeds; the Job alone decides pass or fail.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes import (
    ModelConnection,
    inherited_dependencies,
    model_client_egress_spec,
    pod_selector,
    resources,
    restricted_container_security_context,
    restricted_pod_security_context,
)

SCRIPT_MOUNT = "/app"


@dataclass(frozen=True)
class SmokeTestArgs:
    """What to test and with which script."""

    namespace: pulumi.Input[str]
    """Namespace to run in (the Workspace's, so the model's NetworkPolicy applies)."""
    connection: ModelConnection
    """How the test reaches the model: the way the demo app does (through the front door when there is one)."""
    model: str
    """The model expected to answer (part of the Job's identity: a new model is tested anew)."""
    source: Mapping[str, str]
    """smoke_test.py and the app.py it reuses, mounted read-only at /app."""
    image: str
    """Pinned Python image."""
    deadline_seconds: int = 900
    """The Job's active deadline: every attempt together."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Recommended labels, plus any label the model's NetworkPolicy admits."""
    team: str = "smoke-test"
    """The test's team name at the front door."""
    attempts: int = 5
    """How often it asks before failing (a front door's certificate can take minutes to be issued)."""
    load_streams: int = 4
    """Concurrent streams of the measurement; 0: no measurement."""
    load_tokens: int = 128
    """Most tokens each stream of the measurement generates."""


class SmokeTest(pulumi.ComponentResource):
    """Runs after the Workspace is ready; pulumi-kubernetes waits for the Job and fails when it fails."""

    job_name: pulumi.Output[str]
    """Name of the Job (kubectl logs -n <namespace> job/<name>)."""
    measurement: pulumi.Output[dict[str, Any] | None] | None
    """What the load measurement reported (smoke_test.py measure), None where it left no message; None without
    a measurement."""

    def __init__(self, name: str, args: SmokeTestArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kaito-aks:smoke_test:SmokeTest", name, {}, opts)
        identity = smoke_test_identity(args)
        labels = dict(args.labels)
        after = inherited_dependencies(opts)

        script = k8s.core.v1.ConfigMap(
            f"{name}-script",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"smoke-test-{identity}", namespace=args.namespace, labels=labels),
            data=dict(args.source),
            opts=pulumi.ResourceOptions(parent=self, depends_on=after),
        )
        egress = k8s.networking.v1.NetworkPolicy(
            f"{name}-egress",
            # Named after the component: each model's smoke test ("smoke-test", "smoke-test-<workspace>") has its own.
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{name}-egress", namespace=args.namespace, labels=labels),
            spec=model_client_egress_spec(pod_selector(labels), args.connection),
            opts=pulumi.ResourceOptions(parent=self, depends_on=after),
        )
        job = k8s.batch.v1.Job(
            f"{name}-job",
            # Named after what it tests: a new model, endpoint or script runs a new Job, while an
            # unchanged stack keeps the finished one and previews show no change.
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"smoke-test-{identity}", namespace=args.namespace, labels=labels),
            spec=job_spec(args, labels, script.metadata.name),
            opts=pulumi.ResourceOptions(
                parent=self,
                # Runs under its policy, so a passing test also proves the policy lets it reach the model.
                depends_on=[script, egress, *after],
                custom_timeouts=pulumi.CustomTimeouts(create=f"{args.deadline_seconds // 60 + 5}m"),
            ),
        )
        self.job_name = job.metadata.name
        self.measurement = None
        if args.load_streams:
            load = k8s.core.v1.Pod(
                f"{name}-load",
                # Measured again whenever the Job runs again, or the load changes.
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=f"smoke-test-load-{identity}-{args.load_streams}x{args.load_tokens}",
                    namespace=args.namespace, labels=labels),
                spec=load_pod_spec(args, labels, script.metadata.name),
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=[job],
                    custom_timeouts=pulumi.CustomTimeouts(create=f"{LOAD_DEADLINE_SECONDS // 60 + 5}m"),
                ),
            )
            self.measurement = load.status.apply(termination_message)
        self.register_outputs({"jobName": self.job_name, "measurement": self.measurement})


LOAD_DEADLINE_SECONDS = 600
HEARTBEAT_DIR = "/run/measure"
HEARTBEAT_FILE = f"{HEARTBEAT_DIR}/heartbeat"


def termination_message(status: Any) -> dict[str, Any] | None:
    """The JSON line the measurement left as its container's termination message."""
    for container in (getattr(status, "container_statuses", None) or []):
        terminated = getattr(getattr(container, "state", None), "terminated", None)
        message = getattr(terminated, "message", None)
        if message:
            try:
                parsed = json.loads(message)
            except ValueError:
                return {"error": f"the measurement left an unreadable message: {message[:200]}"}
            return parsed if isinstance(parsed, dict) else None
    return None


def smoke_test_identity(args: SmokeTestArgs) -> str:
    material = json.dumps(
        {"endpoint": args.connection.identity, "model": args.model, "source": dict(sorted(args.source.items()))},
        sort_keys=True,
    )
    return hashlib.sha256(material.encode()).hexdigest()[:10]


def load_pod_spec(args: SmokeTestArgs, labels: Mapping[str, str],
                  script_config_map: pulumi.Input[str]) -> dict[str, Any]:
    """The measurement: the Job's pod, running smoke_test.py --measure once."""
    pod = job_spec(args, labels, script_config_map)["template"]["spec"]
    (container,) = pod["containers"]
    # Alive while tokens keep coming: the script touches the file with each one, and every request gives up after
    # 120 s (REQUEST_TIMEOUT_SECONDS), so a file older than that means the run is stuck.
    streaming = {"exec": {"command": ["python", "-c", "import os, sys, time; sys.exit(time.time() - "
                                      f"os.path.getmtime('{HEARTBEAT_FILE}') > 150)"]},
                 "initialDelaySeconds": 10, "periodSeconds": 30, "timeoutSeconds": 10}
    # Never ready while it runs: pulumi-kubernetes stops waiting for a Pod once it is Ready or Succeeded
    # (pulumi/pulumi-kubernetes@v4.32.0:provider/pkg/await/checker/pod/check.go podReady), and only a finished Pod
    # carries the termination message with the result. A container with a readiness probe is not ready until the
    # probe passes, and this one is not even tried before the Pod's deadline.
    not_before_the_end = {"exec": {"command": ["true"]}, "initialDelaySeconds": LOAD_DEADLINE_SECONDS + 60}
    return {
        **pod,
        "activeDeadlineSeconds": LOAD_DEADLINE_SECONDS,
        "containers": [{
            **container,
            "name": "measure",
            "command": [*container["command"], "--measure"],
            "env": [*container["env"],
                    {"name": "SMOKE_TEST_LOAD_STREAMS", "value": str(args.load_streams)},
                    {"name": "SMOKE_TEST_LOAD_TOKENS", "value": str(args.load_tokens)},
                    {"name": "SMOKE_TEST_HEARTBEAT_FILE", "value": HEARTBEAT_FILE}],
            # Success too leaves the message: the script writes its result to the termination log.
            "terminationMessagePolicy": "File",
            "livenessProbe": streaming,
            "readinessProbe": not_before_the_end,
            "volumeMounts": [*container["volumeMounts"], {"name": "heartbeat", "mountPath": HEARTBEAT_DIR}],
        }],
        "volumes": [*pod["volumes"], {"name": "heartbeat", "emptyDir": {"sizeLimit": "1Mi"}}],
    }


def job_spec(args: SmokeTestArgs, labels: Mapping[str, str], script_config_map: pulumi.Input[str]) -> dict[str, Any]:
    return {
        # The script retries itself (bounded); one more pod covers a node that went away.
        "backoffLimit": 1,
        "activeDeadlineSeconds": args.deadline_seconds,
        # Removed an hour after it finishes; a later `pulumi up --refresh` then runs it again.
        "ttlSecondsAfterFinished": 3600,
        "template": {
            "metadata": {"labels": dict(labels)},
            "spec": {
                "restartPolicy": "Never",
                "automountServiceAccountToken": False,
                "securityContext": restricted_pod_security_context(),
                "containers": [
                    {
                        "name": "smoke-test",
                        "image": args.image,
                        "command": ["python", f"{SCRIPT_MOUNT}/smoke_test.py"],
                        "env": [
                            *args.connection.env(),
                            {"name": "MODEL", "value": args.model},
                            {"name": "SMOKE_TEST_ATTEMPTS", "value": str(args.attempts)},
                            {"name": "SMOKE_TEST_RETRY_SECONDS", "value": "20"},
                            {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
                        ],
                        # On failure the script's last line (the model's error) becomes the
                        # termination message that `kubectl describe` and Pulumi show.
                        "terminationMessagePolicy": "FallbackToLogsOnError",
                        "resources": resources("50m", "64Mi", "250m", "128Mi"),
                        "securityContext": restricted_container_security_context(),
                        "volumeMounts": [{"name": "script", "mountPath": SCRIPT_MOUNT, "readOnly": True},
                                         *args.connection.volume_mounts()],
                    }
                ],
                "volumes": [{"name": "script", "configMap": {"name": script_config_map}},
                            *args.connection.volumes(args.team)],
            },
        },
    }
