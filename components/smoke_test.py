"""SmokeTest: a Job that asks the model one question; `pulumi up` fails unless it answers."""

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


class SmokeTest(pulumi.ComponentResource):
    """Runs after the Workspace is ready; pulumi-kubernetes waits for the Job and fails when it fails."""

    job_name: pulumi.Output[str]
    """Name of the Job (kubectl logs -n <namespace> job/<name>)."""

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
            metadata=k8s.meta.v1.ObjectMetaArgs(name="smoke-test-egress", namespace=args.namespace, labels=labels),
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
        self.register_outputs({"jobName": self.job_name})


def smoke_test_identity(args: SmokeTestArgs) -> str:
    material = json.dumps(
        {"endpoint": args.connection.identity, "model": args.model, "source": dict(sorted(args.source.items()))},
        sort_keys=True,
    )
    return hashlib.sha256(material.encode()).hexdigest()[:10]


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
