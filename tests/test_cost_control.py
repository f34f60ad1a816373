"""Cost control in the program: pause, GPU pool clean-up after a Workspace goes, budget, tags."""

from __future__ import annotations

import datetime

import pulumi
import pytest
from azure.core.exceptions import ResourceNotFoundError

from components.gpu_pool_cleanup import GpuPoolCleanupTarget, cleanup_hook, delete_workspace_pools
from stacks import prices
from stacks.settings import ConfigError
from tests.harness import AROUND_THE_MODEL, OPERATED, run_failing_program, size_config, size_program

WORKSPACE = "kubernetes:kaito.sh/v1beta1:Workspace"
CLUSTER = "azure-native:containerservice:ManagedCluster"
BUDGET = "azure-native:consumption:Budget"


def test_paused_removes_the_workspace_and_keeps_the_cluster():
    running = size_program("small")
    paused = size_program("small", paused=True)
    assert paused.of_type(WORKSPACE) == []
    assert paused.of_type("kubernetes:batch/v1:Job") == []
    assert paused.one(CLUSTER).inputs == running.one(CLUSTER).inputs
    group = "azure-native:resources:ResourceGroup"
    assert paused.one(group).inputs == running.one(group).inputs
    # The model's namespace; no GPU metrics exporter without GPU nodes.
    assert [ns.inputs["metadata"]["name"] for ns in paused.of_type("kubernetes:core/v1:Namespace")] == ["kaito"]
    assert paused.outputs["paused"] is True
    # The system node, and the container logs' daily cap.
    system, logs = (prices.usd_per_hour(sku, "eastus") for sku in ("Standard_D4s_v5", prices.LOG_ANALYTICS_GB_PER_DAY))
    assert paused.outputs["estimatedHourlyCostUsd"] == pytest.approx(system + logs)


def test_paused_scales_the_demo_app_to_zero_without_waiting_on_a_workspace():
    paused = size_program("small", paused=True)
    deployment = paused.one("kubernetes:apps/v1:Deployment")
    assert deployment.inputs["spec"]["replicas"] == 0
    assert "demoAppPortForward" in paused.outputs
    # Resuming is one config change (paused false, the default): the same Workspace comes back.
    resumed = size_program("small")
    assert resumed.one(WORKSPACE).inputs["metadata"]["name"] == paused.outputs["workspaceName"]


def test_the_workspace_carries_the_gpu_pool_clean_up_hook():
    workspace = size_program("large").one(WORKSPACE)
    assert workspace.after_delete_hooks == ["model-delete-kaito-gpu-pools"]


class FakePoller:
    def __init__(self, log, name):
        self.log, self.name = log, name

    def result(self):
        self.log.append(self.name)


class FakeAgentPools:
    def __init__(self, pools, missing_cluster=False):
        self.pools, self.missing_cluster, self.deleted = pools, missing_cluster, []

    def list(self, resource_group_name, resource_name):
        if self.missing_cluster:
            raise ResourceNotFoundError("ResourceNotFound: managedClusters/aks-x not found")
        assert (resource_group_name, resource_name) == ("rg-kaito-aks-dev", "aks-kaito-aks-dev")
        return self.pools

    def begin_delete(self, resource_group_name, resource_name, agent_pool_name):
        return FakePoller(self.deleted, agent_pool_name)


def agent_pool(name, vm_size, labels):
    return {"name": name, "properties": {"vmSize": vm_size, "count": 1, "mode": "User", "nodeLabels": labels}}


POOLS = [
    agent_pool("system", "Standard_D4s_v5", {}),
    agent_pool("ws1f2e3d", "Standard_NV36ads_A10_v5",
               {"kaito.sh/workspace": "ws-phi-4-mini-instruct", "kaito.sh/workspacenamespace": "kaito"}),
    agent_pool("ws9a8b7c", "Standard_NC24ads_A100_v4",
               {"kaito.sh/workspace": "ws-phi-4-mini-instruct", "kaito.sh/workspacenamespace": "kaito"}),
    agent_pool("ws5d6e7f", "Standard_NV36ads_A10_v5",
               {"kaito.sh/workspace": "ws-phi-4-mini-instruct", "kaito.sh/workspacenamespace": "other-team"}),
    agent_pool("ws0c0c0c", "Standard_NC24ads_A100_v4", {"kaito.sh/workspace": "ws-phi-4"}),
]


def test_only_the_deleted_workspaces_pool_of_its_size_is_deleted():
    client = FakeAgentPools(POOLS)
    deleted = delete_workspace_pools(client, "rg-kaito-aks-dev", "aks-kaito-aks-dev", "ws-phi-4-mini-instruct",
                                     "kaito", "Standard_NV36ads_A10_v5", log=lambda line: None)
    assert deleted == ["ws1f2e3d"] and client.deleted == ["ws1f2e3d"]


def test_a_cluster_that_is_already_gone_needs_no_clean_up():
    client = FakeAgentPools(POOLS, missing_cluster=True)
    assert delete_workspace_pools(client, "rg", "aks", "ws", "kaito", None, log=lambda line: None) == []


def test_the_hook_reads_the_deleted_workspace_from_its_old_inputs():
    client = FakeAgentPools(POOLS)
    asked_for: list[str] = []

    def agent_pools(subscription: str) -> FakeAgentPools:
        asked_for.append(subscription)
        return client

    target = GpuPoolCleanupTarget("rg-kaito-aks-dev", "aks-kaito-aks-dev", subscription_id="sub-1")
    callback = _hook_callback(target, agent_pools)
    run_hook(callback, pulumi.ResourceHookArgs(
        urn="urn:pulumi:dev::kaito-aks::kubernetes:kaito.sh/v1beta1:Workspace::model-workspace",
        id="kaito/ws-phi-4-mini-instruct", name="model-workspace", type=WORKSPACE,
        old_inputs={"metadata": {"name": "ws-phi-4-mini-instruct", "namespace": "kaito"},
                    "resource": {"instanceType": "Standard_NC24ads_A100_v4", "count": 1}},
    ))
    assert client.deleted == ["ws9a8b7c"]
    assert asked_for == ["sub-1"]


def run_hook(callback, args) -> None:
    """Call a registered hook function as the SDK does: awaiting it when it is a coroutine."""
    import asyncio
    import inspect

    result = callback(args)
    if inspect.isawaitable(result):
        asyncio.run(result)


def _hook_callback(target: GpuPoolCleanupTarget, agent_pools):
    """The function cleanup_hook registers (a real ResourceHook needs a running engine)."""
    captured = {}

    class Capture:
        def __init__(self, name, func, opts=None):
            captured["name"], captured["func"] = name, func

    original = pulumi.ResourceHook
    pulumi.ResourceHook = Capture  # type: ignore[misc]
    try:
        cleanup_hook("model-delete-kaito-gpu-pools", target, agent_pools)
    finally:
        pulumi.ResourceHook = original  # type: ignore[misc]
    assert captured["name"] == "model-delete-kaito-gpu-pools"
    return captured["func"]


# The budgets and tags below are set in tests/harness.py's shared stacks (each test looks at its own part): OPERATED's
# budget (3000 USD, two contacts) starts in a given month, AROUND_THE_MODEL's (the same) has no start date.
def test_a_budget_alerts_at_50_80_and_100_percent_of_the_resource_group():
    run = size_program("cpu", **OPERATED)
    budget = run.one(BUDGET)
    group = run.one("azure-native:resources:ResourceGroup")
    assert budget.inputs["scope"] == (
        "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg-kaito-aks-test")
    assert group.urn in budget.dependencies
    assert budget.inputs["amount"] == 3000
    assert (budget.inputs["category"], budget.inputs["timeGrain"]) == ("Cost", "Monthly")
    assert budget.inputs["timePeriod"] == {"startDate": "2026-11-01T00:00:00Z"}
    notifications = budget.inputs["notifications"]
    assert sorted(n["threshold"] for n in notifications.values()) == [50, 80, 100]
    for notification in notifications.values():
        assert notification["contactEmails"] == ["platform@contoso.com", "fin@contoso.com"]
        assert (notification["enabled"], notification["thresholdType"]) == (True, "Actual")
    assert budget.ignore_changes == ["timePeriod"]


def test_no_budget_unless_asked_for():
    assert size_program("small").of_type(BUDGET) == []


def test_without_a_start_date_the_budget_starts_this_month_and_ignores_later_months():
    budget = size_program("small", **AROUND_THE_MODEL).one(BUDGET)
    today = datetime.datetime.now(datetime.UTC).date()
    assert budget.inputs["timePeriod"]["startDate"] == f"{today.replace(day=1).isoformat()}T00:00:00Z"
    # A preview next month computes another date; ignore_changes keeps it from showing as a change.
    assert budget.ignore_changes == ["timePeriod"]


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"budgetMonthlyUsd": 100}, "kaito-aks:budgetContactEmails is empty"),
        ({"budgetMonthlyUsd": 100, "budgetContactEmails": ["not-an-address"]},
         "kaito-aks:budgetContactEmails '[\"not-an-address\"]' has a wrong entry: "
         "'not-an-address' is not an e-mail address"),
        ({"budgetMonthlyUsd": -5}, "kaito-aks:budgetMonthlyUsd '-5' must be at least 0"),
        ({"budgetStartDate": "2026-11-15"}, "kaito-aks:budgetStartDate '2026-11-15' must be the first day of a month"),
        ({"expiresOn": "next friday"}, "kaito-aks:expiresOn 'next friday' is not a date"),
        ({"autoTeardown": "sometimes"}, "kaito-aks:autoTeardown 'sometimes' is not a teardown policy"),
        ({"paused": "later"}, "kaito-aks:paused 'later' is not true or false"),
    ],
)
def test_bad_cost_control_config_is_refused_before_any_resource(overrides, fragment):
    error, registered = run_failing_program(size_config("small", **overrides))
    assert isinstance(error, ConfigError)
    assert fragment in str(error)
    assert registered == []


def test_cost_reporting_tags_environment_owner_and_expiry():
    run = size_program("cpu", **OPERATED)  # environment dev, owner ml-platform, expiry 2027-01-31
    tags = run.one(CLUSTER).inputs["tags"]
    wanted = {"environment": "dev", "owner": "ml-platform", "expiry": "2027-01-31", "modelSize": "cpu"}
    assert {key: tags[key] for key in wanted} == wanted
    assert "expiry" not in size_program("cpu").one(CLUSTER).inputs["tags"]
