"""Monitoring (kaito-aks:metrics, alerts, grafana, containerLogs): each piece per the settings, scrape objects that
select what KAITO really labels, a dashboard and alert rules that parse and name only metrics the engines really
export, the Grafana dashboard provider against a scripted Grafana, and the smoke test's measurement as an output."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import promql_parser
import pytest

from components import cluster_monitoring, gpu_metrics, serving_metrics
from components.grafana_dashboard import GrafanaDashboardProvider
from components.serving_metrics import ENGINES, LLAMA_CPP, OTHER_METRICS, VLLM_0_9, VLLM_0_25
from components.workspace import MODEL_PORT
from scripts.offline import RECORDED_MEASUREMENT, ProgramRun
from stacks import compose
from stacks.settings import ConfigError
from tests.harness import (
    AROUND_THE_MODEL,
    MONITORED,
    UNATTENDED,
    WORKSPACE,
    program,
    run_failing_program,
    size_config,
    size_program,
    stack_config,
    workspace_object,
)
from tests.test_kubernetes_security import Pod, can_connect

CLUSTER = "azure-native:containerservice:ManagedCluster"
POD_MONITOR = "kubernetes:azmonitoring.coreos.com/v1:PodMonitor"
RULES = "azure-native:alertsmanagement:PrometheusRuleGroup"
DCR = "azure-native:monitor:DataCollectionRule"
ASSOCIATION = "azure-native:monitor:DataCollectionRuleAssociation"
GRAFANA = "azure-native:dashboard:Grafana"
LOGS = "azure-native:operationalinsights:Workspace"
METRICS = "azure-native:monitor:AzureMonitorWorkspace"
ACTION_GROUP = "azure-native:monitor:ActionGroup"
DAEMONSET = "kubernetes:apps/v1:DaemonSet"
DYNAMIC = "pulumi-python:dynamic:Resource"
ADMIN, READER = MONITORED["clusterAdminGroups"][0], MONITORED["clusterReaderGroups"][0]
AMA_METRICS = Pod("kube-system", {"rsName": "ama-metrics"})


def grafana_run() -> ProgramRun:
    return size_program("cpu", **MONITORED)


def tuned_run() -> ProgramRun:
    """A small stack alerting at 4 s and measuring nothing (tests/harness.py's AROUND_THE_MODEL, shared)."""
    assert (AROUND_THE_MODEL["alertTtftP95Seconds"], AROUND_THE_MODEL["measureStreams"]) == (4, 0)
    return size_program("small", **AROUND_THE_MODEL)


def named(run: ProgramRun, type_: str, name: str):
    (found,) = [r for r in run.of_type(type_) if r.name == name]
    return found


def quiet_run() -> ProgramRun:
    """A CPU stack without container logs, metrics and alerts (tests/harness.py's UNATTENDED, shared)."""
    return size_program("cpu", **UNATTENDED)


def prod() -> ProgramRun:
    return program(stack_config("prod"), stack="prod", preview=True)


# --- what exists, per the settings -----------------------------------------------------------------------------


def test_by_default_metrics_alerts_and_logs_are_on_and_grafana_is_off():
    run = size_program("small")
    cluster = run.one(CLUSTER).inputs
    assert cluster["azureMonitorProfile"] == {"metrics": {"enabled": True}}
    logs = run.one(LOGS).inputs
    assert (logs["retentionInDays"], logs["workspaceCapping"], logs["sku"]) == (30, {"dailyQuotaGb": 1},
                                                                                 {"name": "PerGB2018"})
    # Container Insights signs in with the cluster's managed identity, into that workspace.
    assert cluster["addonProfiles"]["omsagent"]["config"] == {
        "logAnalyticsWorkspaceResourceID": run.one(LOGS).id, "useAADAuth": "true"}
    rules = {r.inputs["dataCollectionRuleName"]: r.inputs for r in run.of_type(DCR)}
    prometheus = rules["MSProm-eastus-aks-kaito-aks-test"]
    assert prometheus["destinations"]["monitoringAccounts"] == [
        {"name": "MonitoringAccount1", "accountResourceId": run.one(METRICS).id}]
    assert prometheus["dataFlows"] == [{"streams": ["Microsoft-PrometheusMetrics"],
                                        "destinations": ["MonitoringAccount1"]}]
    insights = rules["MSCI-eastus-aks-kaito-aks-test"]
    assert insights["destinations"]["logAnalytics"][0]["workspaceResourceId"] == run.one(LOGS).id
    # Both rules are associated with the cluster.
    cluster_id = run.one(CLUSTER).id
    assert sorted(a.inputs["resourceUri"] for a in run.of_type(ASSOCIATION)) == [cluster_id, cluster_id]
    assert {a.inputs["dataCollectionRuleId"] for a in run.of_type(ASSOCIATION)} == {r.id for r in run.of_type(DCR)}
    assert run.of_type(GRAFANA) == [] and "grafanaDashboardUrl" not in run.outputs
    # No contacts, no mail: the rules still fire and show in Azure Monitor.
    assert run.of_type(ACTION_GROUP) == []
    assert all(rule["actions"] == [] for rule in run.one(RULES).inputs["rules"])


def test_each_piece_can_be_turned_off():
    run = quiet_run()
    assert "azureMonitorProfile" not in run.one(CLUSTER).inputs
    assert "addonProfiles" not in run.one(CLUSTER).inputs
    for type_ in (LOGS, METRICS, DCR, ASSOCIATION, RULES, POD_MONITOR, GRAFANA):
        assert run.of_type(type_) == [], type_
    # Nothing scrapes the model, so nothing but its clients may reach it.
    assert not can_connect(run, AMA_METRICS, model_pod(run), MODEL_PORT)
    assert can_connect(size_program("cpu"), AMA_METRICS, model_pod(size_program("cpu")), MODEL_PORT)


def test_log_retention_and_daily_cap_come_from_the_settings():
    logs = grafana_run().one(LOGS).inputs
    assert (logs["retentionInDays"], logs["workspaceCapping"]) == (90, {"dailyQuotaGb": 5})


def test_grafana_reads_the_metrics_and_the_cluster_groups_get_grafana_roles():
    run = grafana_run()
    grafana = run.one(GRAFANA)
    assert grafana.inputs["sku"] == {"name": "Standard"}
    assert grafana.inputs["properties"]["grafanaIntegrations"] == {
        "azureMonitorWorkspaceIntegrations": [{"azureMonitorWorkspaceResourceId": run.one(METRICS).id}]}
    assert grafana.inputs["properties"]["apiKey"] == "Disabled"
    roles = {(r.inputs["roleDefinitionId"].rsplit("/", 1)[-1], r.inputs["principalId"], r.inputs["scope"])
             for r in run.of_type("azure-native:authorization:RoleAssignment")}
    from components.identity import BUILT_IN_ROLES
    from scripts.offline import DEPLOYER_OBJECT_ID

    grafana_identity = grafana.outputs["identity"]["principalId"]
    assert (BUILT_IN_ROLES["Monitoring Data Reader"], grafana_identity, run.one(METRICS).id) in roles
    for principal in (DEPLOYER_OBJECT_ID, ADMIN):
        assert (BUILT_IN_ROLES["Grafana Admin"], principal, grafana.id) in roles
    assert (BUILT_IN_ROLES["Grafana Viewer"], READER, grafana.id) in roles
    (board,) = [r for r in run.of_type(DYNAMIC) if "dashboard_json" in r.inputs]
    assert board.inputs["endpoint"] == grafana.outputs["properties"]["endpoint"]
    # The dashboard waits for the right it is put in with: the deployer's Grafana Admin assignment.
    (deployer_admin,) = [r for r in run.of_type("azure-native:authorization:RoleAssignment")
                         if r.inputs["principalId"] == DEPLOYER_OBJECT_ID
                         and r.inputs["roleDefinitionId"].endswith(BUILT_IN_ROLES["Grafana Admin"])]
    assert deployer_admin.urn in board.dependencies
    assert run.outputs["grafanaDashboardUrl"] == (
        f"{grafana.outputs['properties']['endpoint']}/d/kaito-aks-model/kaito-aks-model-serving")


def test_grafana_without_metrics_is_refused_before_anything_is_created():
    error, registered = run_failing_program(size_config("cpu", grafana=True, metrics=False))
    assert isinstance(error, ConfigError)
    assert "kaito-aks:grafana needs kaito-aks:metrics, which is false" in str(error)
    assert "pulumi config set kaito-aks:metrics true" in str(error)
    assert [r for r in registered if r.type != "pulumi:pulumi:Stack"] == []


def test_alerts_mail_the_budget_contacts():
    run = prod()
    (group,) = run.of_type(ACTION_GROUP)
    assert [r["emailAddress"] for r in group.inputs["emailReceivers"]] == ["platform-team@example.com"]
    assert all(rule["actions"] == [{"actionGroupId": group.id}] for rule in run.one(RULES).inputs["rules"])


# --- scraping what KAITO really labels ---------------------------------------------------------------------------


def model_pod(run: ProgramRun) -> Pod:
    """A model pod as KAITO makes it: in the namespace, labelled kaito.sh/workspace=<Workspace name>
    (kaito-project/kaito@v0.6.0 and @v0.12.0:pkg/workspace/manifests/manifests.go)."""
    workspace = workspace_object(run)
    return Pod(workspace["metadata"]["namespace"], {"kaito.sh/workspace": workspace["metadata"]["name"]})


@pytest.mark.parametrize("size", ["cpu", "small"])
def test_the_pod_monitor_selects_the_models_pods_by_kaitos_label_on_the_serving_port(size):
    run = size_program(size)
    monitors = {r.inputs["metadata"]["name"]: r.inputs for r in run.of_type(POD_MONITOR)}
    model = monitors["kaito-model"]
    pod = model_pod(run)
    assert model["metadata"]["namespace"] == pod.namespace
    assert model["spec"]["selector"] == {"matchLabels": dict(pod.labels)}
    (endpoint,) = model["spec"]["podMetricsEndpoints"]
    assert (endpoint["portNumber"], endpoint["path"]) == (MODEL_PORT, "/metrics")
    # Every series says it is the model's, and which model (the alerts read each model's own).
    assert endpoint["relabelings"] == [
        {"action": "replace", "targetLabel": "job", "replacement": "kaito-model"},
        {"action": "replace", "targetLabel": "kaito_workspace",
         "replacement": workspace_object(run)["metadata"]["name"]},
    ]
    # The scraper (ama-metrics in kube-system) may reach that port through the namespace's policies.
    assert can_connect(run, AMA_METRICS, pod, MODEL_PORT)
    if size == "cpu":
        # kaito-aks's own llama.cpp serves /metrics only when asked to.
        (container,) = workspace_object(run)["inference"]["template"]["spec"]["containers"]
        assert "--metrics" in container["args"]


def test_gpu_metrics_run_on_the_nodes_kaito_makes_for_the_workspace():
    run = size_program("small")
    (daemonset,) = run.of_type(DAEMONSET)
    spec = daemonset.inputs["spec"]["template"]["spec"]
    # KAITO labels its nodes with the Workspace's labelSelector and taints them sku=gpu.
    assert spec["nodeSelector"] == workspace_object(run)["resource"]["labelSelector"]["matchLabels"]
    assert {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"} in spec["tolerations"]
    (container,) = spec["containers"]
    assert container["image"].startswith("nvcr.io/nvidia/k8s/dcgm-exporter:4.5.3-4.8.2-distroless@sha256:")
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert spec["securityContext"]["runAsNonRoot"] is True
    counters = named(run, "kubernetes:core/v1:ConfigMap", "gpu-metrics-counters").inputs["data"]["counters.csv"]
    fields = [line.split(",")[0] for line in counters.splitlines() if line and not line.startswith("#")]
    # Basic fields only: profiling fields (DCGM_FI_PROF_*) would need SYS_ADMIN.
    assert fields and not [f for f in fields if f.startswith("DCGM_FI_PROF_")]
    assert {"DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE"} <= set(fields)
    namespace = named(run, "kubernetes:core/v1:Namespace", "gpu-metrics-namespace").inputs["metadata"]
    assert namespace["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    exporter = Pod(namespace["name"], dict(daemonset.inputs["spec"]["selector"]["matchLabels"]))
    assert can_connect(run, AMA_METRICS, exporter, gpu_metrics.EXPORTER_PORT)
    assert not can_connect(run, model_pod(run), exporter, gpu_metrics.EXPORTER_PORT)
    monitor = next(r for r in run.of_type(POD_MONITOR) if r.inputs["metadata"]["name"] == "gpu").inputs
    assert monitor["spec"]["selector"]["matchLabels"] == daemonset.inputs["spec"]["selector"]["matchLabels"]
    # A CPU model has no GPU to watch.
    assert size_program("cpu").of_type(DAEMONSET) == []


def test_the_front_door_is_scraped_for_each_teams_tokens():
    run = prod()
    monitor = next(r for r in run.of_type(POD_MONITOR) if r.inputs["metadata"]["name"] == "front-door-token-usage")
    from components.front_door import self_proxy_peer

    proxies = self_proxy_peer("envoy-gateway-system", "kaito")
    assert monitor.inputs["metadata"]["namespace"] == "envoy-gateway-system"
    assert monitor.inputs["spec"]["selector"] == proxies["podSelector"]
    assert monitor.inputs["spec"]["podMetricsEndpoints"][0]["portNumber"] == cluster_monitoring.AI_GATEWAY_METRICS_PORT


# --- queries: parse, and name only what the engines export --------------------------------------------------------


def metric_names(query: str) -> set[str]:
    names: set[str] = set()

    def walk(node: Any) -> None:
        if type(node).__name__ == "VectorSelector":
            names.add(node.name)
        for attribute in ("lhs", "rhs", "expr", "args", "vector_selector", "param"):
            child = getattr(node, attribute, None)
            for item in child if isinstance(child, list) else [child]:
                if type(item).__module__.startswith("promql_parser"):
                    walk(item)

    walk(promql_parser.parse(query))
    return names


def test_the_metric_walker_finds_every_name_and_the_parser_refuses_bad_promql():
    assert metric_names('sum(rate(a_total{x="y"}[5m])) / b or absent(up{job="j"})') == {"a_total", "b", "up"}
    with pytest.raises(ValueError):
        promql_parser.parse("sum(rate(a_total[5m])")


def dashboard_queries() -> list[tuple[str, str]]:
    board = json.loads(cluster_monitoring.dashboard_json("kaito", 3.865))
    return [(panel["title"], target["expr"].replace("$namespace", "kaito").replace("$hourly_cost", "3.865"))
            for panel in board["panels"] for target in panel.get("targets", [])]


def test_the_dashboard_parses_and_every_query_names_a_metric_an_engine_really_exports():
    board = json.loads(cluster_monitoring.dashboard_json("kaito", 3.865))
    assert board["uid"] == "kaito-aks-model"
    constants = {v["name"]: v["query"] for v in board["templating"]["list"] if v["type"] == "constant"}
    assert constants == {"namespace": "kaito", "hourly_cost": "3.865"}
    titles = {panel["title"] for panel in board["panels"]}
    for needed in ("Model serving", "Requests per second", "Generated tokens per second",
                   "Time to first token p50 / p95", "Queue (waiting) and running requests",
                   "Errors and aborts per second", "GPU utilisation and memory", "Tokens per team", "Estimated cost"):
        assert needed in titles
    for title, query in dashboard_queries():
        unknown = {name for name in metric_names(query) if not serving_metrics.known_metric(name)}
        assert not unknown, f"{title}: {unknown}"


@pytest.mark.parametrize("engine", [VLLM_0_9, VLLM_0_25, LLAMA_CPP], ids=lambda e: e.name)
def test_every_engine_fills_the_headline_panels(engine):
    names = {title: metric_names(query) for title, query in dashboard_queries()}
    for title in ("Generated tokens per second", "Queue (waiting) and running requests",
                  "Cost per million output tokens at the estimated $/h"):
        assert any(engine.exposes(name) for name in names[title]), f"{engine.name} leaves '{title}' empty"


@pytest.mark.parametrize(("engine", "gpu"), [(VLLM_0_9, True), (VLLM_0_25, True), (LLAMA_CPP, False)],
                         ids=["vllm-0.9", "vllm-0.25", "llama.cpp"])
def test_alert_rules_parse_and_use_only_their_engines_metrics(engine, gpu):
    rules = cluster_monitoring.alert_rules(engine, "kaito", 10, gpu, workspace="ws-model")
    for rule in rules:
        # Each rule reads its own model's series only (GPU memory: any GPU of the stack's models).
        assert ('kaito_workspace="ws-model"' in rule["expression"]) == (rule["alert"] != "GpuMemoryNearlyFull")
        names = metric_names(rule["expression"])
        # The engine's own metrics, the same gauge under the name its in-place upgrade gives it (exported by a
        # listed engine), `up`, and DCGM fields from NVIDIA's list.
        later = {engine.kv_cache_later} & {n for e in ENGINES for n in e.gauges}
        foreign = {n for n in names if n not in OTHER_METRICS and not engine.exposes(n) and n not in later}
        assert not foreign, f"{rule['alert']} reads {foreign}, which {engine.name} does not export"
        assert rule["for_"] in ("PT5M", "PT10M") and 0 <= rule["severity"] <= 4
        assert rule["annotations"]["summary"] and rule["annotations"]["action"]
    alerts = {rule["alert"] for rule in rules}
    if engine is LLAMA_CPP:
        # llama.cpp exports no latency histogram, error counter or KV-cache gauge: only "not serving" applies.
        assert alerts == {"ModelNotServing"}
    else:
        assert alerts == {"ModelNotServing", "ModelErrors", "SlowFirstToken", "KvCacheNearlyFull",
                          "GpuMemoryNearlyFull"}


def test_the_rules_the_stacks_deploy_match_their_engine_and_threshold():
    addon = size_program("small").one(RULES).inputs
    assert addon["scopes"][1] == size_program("small").one(CLUSTER).id
    assert addon["clusterName"] == "aks-kaito-aks-test"
    by_alert = {rule["alert"]: rule["expression"] for rule in addon["rules"]}
    assert "vllm:gpu_cache_usage_perc" in by_alert["KvCacheNearlyFull"]  # KAITO 0.6.0 runs vLLM 0.9 ...
    assert "vllm:kv_cache_usage_perc" in by_alert["KvCacheNearlyFull"]  # ... until AKS upgrades it
    assert by_alert["SlowFirstToken"].endswith("> 10")
    upstream = {rule["alert"]: rule["expression"]
                for rule in size_program("small", "upstream").one(RULES).inputs["rules"]}
    assert "vllm:kv_cache_usage_perc" in upstream["KvCacheNearlyFull"]  # KAITO 0.12.0 runs vLLM 0.25.1
    tuned = {rule["alert"]: rule["expression"]
             for rule in tuned_run().one(RULES).inputs["rules"]}
    assert tuned["SlowFirstToken"].endswith("> 4")
    assert {rule["alert"] for rule in size_program("cpu").one(RULES).inputs["rules"]} == {"ModelNotServing"}


# --- the Grafana dashboard provider, against a scripted Grafana -------------------------------------------------


class FakeGrafana:
    def __init__(self, status: int = 200, denials: int = 0) -> None:
        """Answers `status`, except that the first `denials` requests get 403 (a role not yet in effect)."""
        self.calls: list[tuple[str, str, str | None, Any]] = []
        calls, answer_status = self.calls, status

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                calls.append((method, self.path, self.headers.get("Authorization"), body))
                status = 403 if len(calls) <= denials else answer_status
                if method == "DELETE" and self.path.endswith("/missing"):
                    status = 404
                payload = {"message": "denied"} if status != 200 else (
                    {"status": "success", "uid": body["dashboard"]["uid"],
                     "url": f"/d/{body['dashboard']['uid']}/kaito-aks-model-serving"} if method == "POST" else {})
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                self._answer("POST")

            def do_DELETE(self) -> None:
                self._answer("DELETE")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.005}, daemon=True).start()
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()


def test_the_dashboard_provider_puts_updates_and_removes_the_dashboard_with_an_entra_token():
    grafana = FakeGrafana()
    provider = GrafanaDashboardProvider(token=lambda: "entra-token")
    board = cluster_monitoring.dashboard_json("kaito", 0.672)
    props = {"endpoint": grafana.endpoint, "dashboard_json": board}
    try:
        created = provider.create(props)
        assert created.id == "kaito-aks-model"
        assert created.outs["url"] == f"{grafana.endpoint}/d/kaito-aks-model/kaito-aks-model-serving"
        method, path, authorization, body = grafana.calls[0]
        assert (method, path, authorization) == ("POST", "/api/dashboards/db", "Bearer entra-token")
        assert body["overwrite"] is True and body["dashboard"]["id"] is None
        assert body["dashboard"]["title"] == json.loads(board)["title"]
        # A new $/h is a new dashboard JSON: updated in place; a new Grafana is a new dashboard.
        changed = {**props, "dashboard_json": cluster_monitoring.dashboard_json("kaito", 1.0)}
        assert provider.diff("kaito-aks-model", props, changed).changes is True
        assert provider.diff("kaito-aks-model", props, changed).replaces == []
        assert provider.diff("kaito-aks-model", props, {**props, "endpoint": "https://other"}).replaces == [
            "endpoint"]
        assert provider.diff("kaito-aks-model", props, dict(props)).changes is False
        provider.update("kaito-aks-model", props, changed)
        assert grafana.calls[1][3]["dashboard"]["templating"] == json.loads(changed["dashboard_json"])["templating"]
        provider.delete("kaito-aks-model", props)
        assert grafana.calls[2][:2] == ("DELETE", "/api/dashboards/uid/kaito-aks-model")
        provider.delete("missing", props)  # already gone: nothing to do
    finally:
        grafana.close()


def test_the_dashboard_provider_waits_for_a_new_grafana_admin_assignment_to_take_effect():
    grafana = FakeGrafana(denials=2)
    sleeps: list[float] = []
    tokens: list[str] = []
    provider = GrafanaDashboardProvider(token=lambda: tokens.append("t") or "t", sleep=sleeps.append)
    try:
        created = provider.create(
            {"endpoint": grafana.endpoint, "dashboard_json": cluster_monitoring.dashboard_json("kaito", 1)})
        assert created.id == "kaito-aks-model"
        assert sleeps == [15.0, 30.0] and len(tokens) == 3  # a fresh token for every try
    finally:
        grafana.close()


def test_the_dashboard_provider_says_what_right_is_missing():
    grafana = FakeGrafana(status=403)
    sleeps: list[float] = []
    try:
        with pytest.raises(RuntimeError, match="answered 403 .* needs Grafana Admin on the instance"):
            GrafanaDashboardProvider(token=lambda: "t", sleep=sleeps.append, patience_seconds=60).create(
                {"endpoint": grafana.endpoint, "dashboard_json": cluster_monitoring.dashboard_json("kaito", 1)})
        assert sleeps == [15.0, 30.0, 60.0]  # then it gives up, with the reason
    finally:
        grafana.close()


# --- the measurement as a stack output -----------------------------------------------------------------------------


def test_the_measurement_comes_back_as_an_output_with_the_cost_of_a_million_tokens():
    run = size_program("small")
    measured = json.loads(RECORDED_MEASUREMENT)
    hourly = run.outputs["estimatedHourlyCostUsd"]
    assert run.outputs["smokeTestMeasurement"] == {
        **measured, "hourlyCostUsd": hourly,
        "costPerMillionOutputTokensUsd": round(hourly / (measured["outputTokensPerSecond"] * 3600) * 1e6, 2)}
    (pod,) = run.of_type("kubernetes:core/v1:Pod")
    (job,) = run.of_type("kubernetes:batch/v1:Job")
    # It runs after the question was answered, in the smoke test's pod, under its egress policy.
    assert job.urn in pod.dependencies
    assert pod.inputs["metadata"]["labels"] == job.inputs["spec"]["template"]["metadata"]["labels"]
    (container,) = pod.inputs["spec"]["containers"]
    assert container["command"][-1] == "--measure"
    env = {item["name"]: item["value"] for item in container["env"]}
    assert (env["SMOKE_TEST_LOAD_STREAMS"], env["SMOKE_TEST_LOAD_TOKENS"]) == ("4", "128")
    assert container["terminationMessagePolicy"] == "File"
    assert pod.inputs["spec"]["restartPolicy"] == "Never"
    # pulumi-kubernetes returns a Pod once it is Ready or Succeeded; only a finished Pod has the result. So the Pod
    # must not turn Ready while it measures: its readiness probe is not tried before the Pod's deadline.
    assert container["readinessProbe"]["initialDelaySeconds"] > pod.inputs["spec"]["activeDeadlineSeconds"]
    assert "getmtime" in container["livenessProbe"]["exec"]["command"][-1]  # a stuck run is still killed


def test_a_preview_cannot_know_the_measurement_and_zero_streams_measure_nothing():
    preview = program(stack_config("staging"), stack="staging", preview=True)  # small, measuring by default
    assert preview.outputs["smokeTestMeasurement"] is None  # unknown until the pod has run
    off = tuned_run()
    assert off.of_type("kubernetes:core/v1:Pod") == [] and "smokeTestMeasurement" not in off.outputs


def test_a_failed_measurement_is_passed_on_as_it_is():
    assert compose.with_cost_per_million_tokens({"streams": 4, "error": "4 of 4 streams failed: x"}, 3.0) == {
        "streams": 4, "error": "4 of 4 streams failed: x"}
    assert "left no result" in compose.with_cost_per_million_tokens(None, 3.0)["error"]


def test_collection_starts_with_the_cluster_and_watching_the_model_waits_for_it():
    run = size_program("small")
    workspace = run.one(WORKSPACE)  # dependencies on a component name its children
    # A Workspace that never gets ready still leaves its events and the model's logs to read.
    for rule in run.of_type(DCR) + run.of_type(ASSOCIATION):
        assert workspace.urn not in rule.dependencies
    # No "model not serving" alert while the GPU node is still on its way.
    for waiting in [*run.of_type(POD_MONITOR), run.one(RULES)]:
        assert workspace.urn in waiting.dependencies, waiting.name


def test_a_paused_stack_switches_its_model_alerts_off_instead_of_paging_for_a_model_meant_to_be_down():
    assert size_program("small").one(RULES).inputs["enabled"] is True
    paused = size_program("small", paused=True)
    assert paused.of_type(WORKSPACE) == []
    assert paused.one(RULES).inputs["enabled"] is False
