"""DemoApp, SmokeTest and the model's NetworkPolicy, as the program registers them."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest

from components.demo_app import source_checksum
from stacks import images
from stacks.settings import ConfigError
from tests.harness import OPERATED, PUBLIC, ProgramRun, run_failing_program, size_config, size_program
from tests.test_front_door import TEAMS

DEMO_APP_DIR = Path(__file__).resolve().parent.parent / "demo_app"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE = "kubernetes:core/v1:Service"
JOB = "kubernetes:batch/v1:Job"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
WORKSPACE = "kubernetes:kaito.sh/v1beta1:Workspace"
CLIENT_LABEL = ("kaito-aks/model-client", "true")


def named(run: ProgramRun, type_: str, name: str):
    return next(r for r in run.resources if r.type == type_ and r.name == name)


def pod_spec(resource) -> dict:
    spec = resource.inputs["spec"]
    return spec["template"]["spec"]


def test_demo_app_runs_its_mounted_source_on_a_pinned_python_image():
    run = size_program("cpu")
    deployment = run.one(DEPLOYMENT)
    (container,) = pod_spec(deployment)["containers"]
    assert container["image"] == images.PYTHON_IMAGE
    assert container["command"] == ["python", "/app/app.py"]
    source = named(run, "kubernetes:core/v1:ConfigMap", "demo-app-source")
    assert source.inputs["data"] == {
        name: (DEMO_APP_DIR / name).read_text() for name in ("app.py", "index.html")
    }
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env["INFERENCE_ENDPOINT"] == run.outputs["inferenceEndpoint"]
    volumes = pod_spec(deployment)["volumes"]
    assert {"name": "source", "configMap": {"name": "demo-app-source"}} in volumes


def test_demo_app_is_hardened_probed_and_sized():
    deployment = size_program("cpu").one(DEPLOYMENT)
    spec = pod_spec(deployment)
    (container,) = spec["containers"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["resources"] == {
        "requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"},
    }
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    labels = deployment.inputs["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == "demo-app"
    assert labels["app.kubernetes.io/component"] == "demo-app"
    assert labels["app.kubernetes.io/part-of"] == "kaito-aks"
    assert labels["app.kubernetes.io/managed-by"] == "pulumi"
    assert labels["app.kubernetes.io/instance"]


def test_pod_template_carries_the_source_checksum_so_code_changes_roll_the_pods():
    deployment = size_program("cpu").one(DEPLOYMENT)
    annotations = deployment.inputs["spec"]["template"]["metadata"]["annotations"]
    source = {name: (DEMO_APP_DIR / name).read_text() for name in ("app.py", "index.html")}
    assert annotations["kaito-aks/source-sha256"] == source_checksum(source)
    changed = {**source, "app.py": source["app.py"] + "\n# changed\n"}
    assert source_checksum(changed) != source_checksum(source)


def test_private_exposure_is_a_cluster_ip_with_the_port_forward_command():
    run = size_program("cpu")
    service = run.one(SERVICE)
    assert service.inputs["spec"]["type"] == "ClusterIP"
    assert "loadBalancerSourceRanges" not in service.inputs["spec"]
    assert run.outputs["demoAppPortForward"] == (
        "kubectl port-forward -n kaito svc/demo-app 8000:80"
    )
    assert "demoAppUrl" not in run.outputs


def test_public_exposure_puts_the_app_behind_the_front_door_and_gives_it_no_address_of_its_own():
    run = size_program("cpu", **PUBLIC, **TEAMS)  # tests/test_front_door.py's public stack (with API teams), shared
    service = {k: v for k, v in named(run, SERVICE, "demo-app-service").inputs.items() if k != "__defaults"}
    kubernetes_validate.validate(service, "1.33", strict=True)
    assert service["spec"]["type"] == "ClusterIP" and "loadBalancerSourceRanges" not in service["spec"]
    assert run.outputs["demoAppUrl"].startswith("https://kaito-test-")
    assert "demoAppPortForward" not in run.outputs


@pytest.mark.parametrize(
    ("overrides", "fragments"),
    [
        ({"exposure": "public"}, ["kaito-aks:allowedSourceRanges is empty", "203.0.113.7/32"]),
        ({"exposure": "public", "allowedSourceRanges": ["10.0.0.300/32"]},
         ["has a wrong entry: '10.0.0.300/32' is not a CIDR", "use e.g. 203.0.113.7/32"]),
        ({"exposure": "public", "allowedSourceRanges": ["10.0.0.1/24"]}, ["'10.0.0.1/24' is not a CIDR", "host bits"]),
        ({"exposure": "public", "allowedSourceRanges": ["0.0.0.0/0"]},
         ["'0.0.0.0/0' opens the front door to the whole internet"]),
        ({"exposure": "public", "allowedSourceRanges": "203.0.113.7/32"},
         ["kaito-aks:allowedSourceRanges", "not a list of CIDRs"]),
        ({"exposure": "internet"}, ["kaito-aks:exposure 'internet'", "private", "public"]),
        ({"demoApp": "yes"}, ["kaito-aks:demoApp 'yes' is not true or false"]),
        ({"restrictModelAccess": "maybe"}, ["kaito-aks:restrictModelAccess 'maybe'"]),
    ],
)
def test_bad_exposure_config_is_a_clear_config_error(overrides, fragments):
    error, registered = run_failing_program(size_config("cpu", **overrides))
    assert isinstance(error, ConfigError)
    for fragment in fragments:
        assert fragment in str(error), str(error)
    assert registered == []


def test_demo_app_can_be_left_out():
    run = size_program("cpu", **OPERATED)  # tests/harness.py's shared stack: demoApp false
    assert run.of_type(DEPLOYMENT) == [] and run.of_type(SERVICE) == []
    assert "demoAppPortForward" not in run.outputs and "demoAppUrl" not in run.outputs
    assert len(run.of_type(JOB)) == 1


@pytest.mark.parametrize("model_size", ["cpu", "large"])
def test_smoke_test_runs_after_the_workspace_and_asks_its_model(model_size):
    run = size_program(model_size)
    job = run.one(JOB)
    workspace = run.one(WORKSPACE)
    policy = named(run, POLICY, "smoke-test-egress")
    assert workspace.urn in job.dependencies
    assert policy.urn in job.dependencies
    spec = job.inputs["spec"]
    assert spec["backoffLimit"] == 1
    assert spec["activeDeadlineSeconds"] == 900
    assert spec["ttlSecondsAfterFinished"] == 3600
    (container,) = spec["template"]["spec"]["containers"]
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env["INFERENCE_ENDPOINT"] == run.outputs["inferenceEndpoint"]
    assert env["MODEL"] == run.outputs["model"]
    assert container["command"] == ["python", "/app/smoke_test.py"]
    assert container["image"] == images.PYTHON_IMAGE
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    script = named(run, "kubernetes:core/v1:ConfigMap", "smoke-test-script")
    assert set(script.inputs["data"]) == {"app.py", "smoke_test.py"}
    assert job.custom_timeouts["create"] == "20m"


def test_demo_app_waits_for_the_workspace():
    run = size_program("small")
    workspace = run.one(WORKSPACE)
    for resource in (run.one(DEPLOYMENT), run.one(SERVICE)):
        assert workspace.urn in resource.dependencies


def test_a_new_model_runs_a_new_smoke_test_job():
    small = size_program("small").one(JOB).inputs["metadata"]["name"]
    again = size_program("small").one(JOB).inputs["metadata"]["name"]
    # Another model (its run is shared with tests/test_plan.py and tests/test_settings.py).
    other = size_program("small", model="phi-3-medium-4k-instruct").one(JOB).inputs["metadata"]["name"]
    assert small == again
    assert small != other
    assert small.startswith("smoke-test-")


def test_only_the_demo_app_and_smoke_test_reach_the_model():
    run = size_program("small")
    policy = named(run, POLICY, "model-model-access").inputs["spec"]
    workspace_name = run.outputs["workspaceName"]
    model_pods = {"matchLabels": {"kaito.sh/workspace": workspace_name}}
    assert policy["podSelector"] == model_pods
    assert policy["policyTypes"] == ["Ingress"]
    assert policy["ingress"] == [
        # The clients, and managed Prometheus's scraper reading /metrics (kaito-aks:metrics is on by default).
        {"from": [{"podSelector": {"matchLabels": {CLIENT_LABEL[0]: CLIENT_LABEL[1]}}},
                  {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                   "podSelector": {"matchLabels": {"rsName": "ama-metrics"}}}],
         "ports": [{"port": 5000, "protocol": "TCP"}]},
        {"from": [{"podSelector": model_pods}]},
    ]
    for client in (run.one(DEPLOYMENT), run.one(JOB)):
        labels = client.inputs["spec"]["template"]["metadata"]["labels"]
        assert labels[CLIENT_LABEL[0]] == CLIENT_LABEL[1]


def test_model_access_restriction_can_be_switched_off():
    run = size_program("small", restrictModelAccess=False)
    policy = named(run, POLICY, "model-model-access").inputs["spec"]
    # Any pod of any namespace may call the model's port (the namespace still denies everything else).
    assert policy["ingress"][0] == {"from": [{"namespaceSelector": {}}], "ports": [{"port": 5000, "protocol": "TCP"}]}
