"""Preflight decisions on recorded Azure response shapes: availability, quota, fallback, failures."""

from __future__ import annotations

import json

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError

from components import azure_api
from scripts import preflight as preflight_command
from stacks import preflight
from tests.fake_azure import FakeAzure, pool
from tests.harness import run_failing_program, run_program, settings_of, size_config

SUBSCRIPTION = "00000000-0000-0000-0000-0000000000aa"


def settings_for(model_size: str, **overrides):
    return settings_of(size_config(model_size, **overrides))


def run(settings, azure: FakeAzure, sleeps=None):
    sleep = sleeps.append if sleeps is not None else (lambda seconds: None)
    return preflight.run_preflight(settings, azure, SUBSCRIPTION, sleep=sleep)


def test_plenty_of_quota_keeps_the_profiles_first_size():
    report = run(settings_for("small"), FakeAzure())
    assert report.chosen == "Standard_NV36ads_A10_v5"
    (line,) = report.explanation()
    assert "Standard_NV36ads_A10_v5 in eastus: offered, quota ok" in line


def test_family_quota_exhausted_falls_back_to_the_next_size_and_says_why():
    azure = FakeAzure()
    azure.set_usage("StandardNVADSA10v5Family", 0, 0)
    report = run(settings_for("small"), azure)
    assert report.chosen == "Standard_NC24ads_A100_v4"
    skipped, chosen = report.explanation()
    assert skipped == (
        "preflight: skipped Standard_NV36ads_A10_v5 in eastus: "
        "StandardNVADSA10v5Family quota 0/0 vCPUs has no room for 36 more"
    )
    assert "Standard_NC24ads_A100_v4" in chosen


def test_family_names_are_compared_without_case_or_spaces():
    # SKUs API: "Standard NCASv3_T4 Family"; usages API: "standardNCASv3_T4Family".
    report = run(settings_for("small", instanceType="Standard_NC8as_T4_v3"), FakeAzure())
    assert report.chosen == "Standard_NC8as_T4_v3"
    assert report.home.checks[0].family_counter.limit == 16


def test_the_system_pool_counts_against_its_family_and_the_region():
    azure = FakeAzure()
    azure.set_usage("standardDSv5Family", 89, 100)  # D8s_v5 (8) + system D4s_v5 (4) = 12 > 11 left
    report = run(settings_for("cpu"), azure)
    first = report.home.checks[0]
    assert first.size == "Standard_D8s_v5" and first.family_extra == 12
    assert "standardDSv5Family quota 89/100 vCPUs has no room for 12 more" in first.problems
    assert report.chosen is None  # D16s_v5 needs 20: no room either


def test_regional_cores_exhausted_fails_with_the_table_and_next_steps():
    azure = FakeAzure()
    azure.set_usage("cores", 250, 260)
    report = run(settings_for("small"), azure)
    assert report.chosen is None
    message = report.failure_message()
    assert "no VM size for phi-4-mini-instruct is available in eastus" in message
    assert "Nothing was created" in message
    assert "regional vCPU quota (cores) 250/260 has no room for 40 more" in message
    assert "raise 'Total Regional vCPUs' (cores) in eastus" in message
    for size in ("Standard_NV36ads_A10_v5", "Standard_NC24ads_A100_v4", "Standard_NC40ads_H100_v5"):
        assert size in message


def test_size_not_offered_in_the_region_is_skipped():
    azure = FakeAzure()
    azure.remove_sku("Standard_NV36ads_A10_v5")
    report = run(settings_for("small"), azure)
    assert report.chosen == "Standard_NC24ads_A100_v4"
    assert report.home.checks[0].problems == ["not offered in eastus"]


def test_size_restricted_for_the_subscription_is_skipped_but_zone_restrictions_are_not_fatal():
    azure = FakeAzure()
    azure.set_usage("StandardNCADSA100v4Family", 0, 0)
    report = run(settings_for("medium"), azure)
    a100, h100 = report.home.checks
    assert a100.offered  # only zone 1 is restricted, and AKS pools here are not zonal
    assert h100.offered is False and h100.problems == ["restricted: NotAvailableForSubscription in eastus"]
    assert report.chosen is None
    message = report.failure_message()
    assert "no (restricted: NotAvailableForSubscription)" in message
    assert (
        "az quota update --resource-name StandardNCADSA100v4Family "
        f"--scope /subscriptions/{SUBSCRIPTION}/providers/Microsoft.Compute/locations/eastus "
        "--limit-object value=24 limit-object-type=LimitValue --resource-type dedicated"
    ) in message
    assert preflight.QUOTA_PORTAL in message
    assert "pulumi config set kaito-aks:modelSize cpu" in message


def test_nothing_fits_here_but_another_listed_region_has_room():
    azure = FakeAzure()
    azure.add_region("westeurope")
    azure.set_usage("StandardNVADSA10v5Family", 0, 0)
    azure.set_usage("StandardNCADSA100v4Family", 0, 0)
    report = run(settings_for("small", preflightRegions=["westeurope"]), azure)
    assert report.chosen is None
    assert report.elsewhere[0].chosen.size == "Standard_NV36ads_A10_v5"
    assert (
        "Standard_NV36ads_A10_v5 is available in westeurope: `pulumi config set azure-native:location westeurope`"
        in report.failure_message()
    )


def test_an_explicit_instance_type_is_the_only_candidate():
    azure = FakeAzure()
    azure.set_usage("StandardNVADSA10v5Family", 0, 0)
    report = run(settings_for("small", instanceType="Standard_NV36ads_A10_v5"), azure)
    assert [c.size for c in report.home.checks] == ["Standard_NV36ads_A10_v5"]
    assert report.chosen is None


def test_a_second_up_does_not_need_the_room_twice():
    # The cluster exists: its system node and the KAITO GPU pool already count in the usage.
    azure = FakeAzure()
    azure.pools = [pool("system", "Standard_D4s_v5", 1, "System"), pool("ws1a2b3c", "Standard_NV36ads_A10_v5", 1)]
    azure.set_usage("cores", 40, 44)
    azure.set_usage("StandardNVADSA10v5Family", 36, 36)
    report = run(settings_for("small"), azure)
    assert report.chosen == "Standard_NV36ads_A10_v5"
    assert ("pools", ("rg-kaito-aks-test", "aks-kaito-aks-test")) in azure.calls


def test_transient_api_errors_are_retried_with_backoff():
    azure = FakeAzure()
    throttled = HttpResponseError(message="Too many requests")
    throttled.status_code = 429
    azure.failures = [ServiceRequestError("connection reset"), throttled]
    sleeps: list[float] = []
    report = run(settings_for("small"), azure, sleeps)
    assert report.chosen == "Standard_NV36ads_A10_v5"
    assert sleeps == [2.0, 4.0]


def test_persistent_api_errors_fail_clearly_and_name_the_override():
    azure = FakeAzure()
    unavailable = HttpResponseError(message="Service Unavailable")
    unavailable.status_code = 503
    azure.failures = [unavailable] * 4
    sleeps: list[float] = []
    with pytest.raises(preflight.PreflightError) as caught:
        run(settings_for("small"), azure, sleeps)
    assert sleeps == [2.0, 4.0, 8.0]
    message = str(caught.value)
    assert "preflight could not ask Azure after 4 attempts: HttpResponseError 503" in message
    assert "pulumi config set kaito-aks:preflight false" in message


def test_a_permission_error_is_not_retried():
    azure = FakeAzure()
    forbidden = HttpResponseError(message="AuthorizationFailed: no read access to Microsoft.Compute/skus")
    forbidden.status_code = 403
    azure.failures = [forbidden]
    sleeps: list[float] = []
    with pytest.raises(preflight.PreflightError, match="HttpResponseError 403: AuthorizationFailed"):
        run(settings_for("small"), azure, sleeps)
    assert sleeps == []


def test_no_credentials_is_one_clear_line():
    azure = FakeAzure()
    azure.failures = [ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token")]
    with pytest.raises(preflight.PreflightError) as caught:
        run(settings_for("small"), azure)
    message = str(caught.value)
    assert message.startswith("preflight found no Azure credentials: run `az login`")
    assert "\n" not in message


def test_subscription_comes_from_config_then_environment_then_the_az_cli():
    assert preflight.find_subscription(settings_for("cpu", **{}), env={"ARM_SUBSCRIPTION_ID": "from-env"}) == "from-env"
    settings = settings_of({"azure-native:location": "eastus",
                            "azure-native:subscriptionId": "00000000-0000-0000-0000-00000000c0f1"})
    assert preflight.find_subscription(settings, env={"ARM_SUBSCRIPTION_ID": "from-env"}) == (
        "00000000-0000-0000-0000-00000000c0f1")


def test_no_subscription_anywhere_says_how_to_log_in(monkeypatch):
    monkeypatch.setattr(azure_api.shutil, "which", lambda name: None)
    with pytest.raises(preflight.PreflightError, match="run `az login`"):
        preflight.find_subscription(settings_for("cpu"), env={})


# --- inside the program ---------------------------------------------------------------------------


def test_the_program_deploys_the_size_preflight_picked(fake_azure):
    fake_azure.set_usage("StandardNVADSA10v5Family", 0, 0)
    run_ = run_program(size_config("small"), preflight=True)
    workspace = run_.one("kubernetes:kaito.sh/v1beta1:Workspace")
    assert workspace.inputs["resource"]["instanceType"] == "Standard_NC24ads_A100_v4"
    assert run_.outputs["instanceType"] == "Standard_NC24ads_A100_v4"


def test_the_program_fails_before_any_resource_when_nothing_fits(fake_azure):
    fake_azure.set_usage("cores", 259, 260)
    error, registered = run_failing_program(size_config("small"), preflight=True)
    assert isinstance(error, preflight.PreflightError)
    assert "Nothing was created" in str(error)
    assert registered == []


def test_a_paused_stack_asks_azure_for_nothing(fake_azure):
    fake_azure.set_usage("cores", 260, 260)
    run_program(size_config("small", paused=True), preflight=True)
    assert fake_azure.calls == []


def test_offline_runs_never_ask_azure(fake_azure):
    run_program(size_config("small"))
    assert fake_azure.calls == []


# --- the command ------------------------------------------------------------------------------


def test_command_prints_a_json_report_for_ci(capsys):
    azure = FakeAzure()
    code = preflight_command.main(["dev", "--json"], capacity_factory=lambda s: azure,
                                  env={"ARM_SUBSCRIPTION_ID": SUBSCRIPTION})
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["ok"] is True and report["chosen"] == "Standard_D8s_v5"
    assert report["stack"] == "dev" and report["region"] == "eastus"
    assert report["checks"][0]["familyQuota"] == "4/100" and report["checks"][0]["vcpusNeeded"] == 8


def test_command_prints_the_failure_table_and_exits_1(capsys):
    azure = FakeAzure()
    azure.set_usage("standardDSv5Family", 100, 100)
    code = preflight_command.main(["dev"], capacity_factory=lambda s: azure, env={"ARM_SUBSCRIPTION_ID": SUBSCRIPTION})
    err = capsys.readouterr().err
    assert code == 1
    assert "VM size" in err and "family quota used/limit" in err
    assert "standardDSv5Family 100/100" in err


def test_command_reports_config_errors_with_exit_code_2(capsys):
    code = preflight_command.main(["nope"], capacity_factory=lambda s: FakeAzure(), env={})
    assert code == 2
    assert "no stack file Pulumi.nope.yaml" in capsys.readouterr().err


# --- the existing cluster's network -----------------------------------------------------------


def system_pool(subnet: str | None) -> dict:
    found = pool("system", "Standard_D4s_v5", 1, mode="System")
    if subnet:
        found["properties"]["vnetSubnetID"] = subnet
    return found


OWN_SUBNET = ("/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg-kaito-aks-test/providers/"
              "Microsoft.Network/virtualNetworks/vnet-aks-kaito-aks-test/subnets/nodes")


def test_karpenter_on_a_cluster_created_without_its_own_subnet_is_refused_with_the_way_out():
    azure = FakeAzure()
    azure.pools = [system_pool(None)]
    report = run(settings_for("small", kaitoInstall="upstream"), azure)
    assert "was created without a subnet of its own" in report.blocking
    assert "pulumi config set kaito-aks:nodeProvisioner gpu-provisioner" in report.blocking
    assert "docs/UPGRADING.md" in report.blocking


def test_leaving_karpenter_on_a_cluster_that_owns_its_subnet_is_refused():
    azure = FakeAzure()
    azure.pools = [system_pool(OWN_SUBNET)]
    report = run(settings_for("small", kaitoInstall="upstream", nodeProvisioner="gpu-provisioner"), azure)
    assert "runs its nodes in the stack's own subnet" in report.blocking


@pytest.mark.parametrize(("pools", "overrides"), [
    ([], {"kaitoInstall": "upstream"}),  # a first deployment
    ([system_pool(OWN_SUBNET)], {"kaitoInstall": "upstream"}),
    ([system_pool(None)], {}),  # the add-on on AKS's own network
    ([system_pool(None)], {"kaitoInstall": "upstream", "nodeProvisioner": "gpu-provisioner"}),
])
def test_a_cluster_whose_network_suits_the_settings_passes(pools, overrides):
    azure = FakeAzure()
    azure.pools = pools
    assert run(settings_for("small", **overrides), azure).blocking is None


def test_the_program_stops_before_any_resource_when_the_network_does_not_suit(fake_azure):
    fake_azure.pools = [system_pool(None)]
    error, registered = run_failing_program(size_config("small", kaitoInstall="upstream"), preflight=True)
    assert isinstance(error, preflight.PreflightError) and "nodeProvisioner gpu-provisioner" in str(error)
    assert registered == []
