"""Cost figures come from the price table for the stack's region; the refresh command parses Retail Prices pages."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from scripts import prices as refresh_command
from stacks import prices
from stacks.catalog import VM_SIZES
from stacks.cost import HOURS_PER_MONTH
from stacks.profiles import ADDON_PROFILES
from tests.harness import MODEL_SIZES, MONITORED, PUBLIC_AT_SCALE, UNATTENDED, program, size_config, size_program

FIXTURES = Path(__file__).parent / "fixtures" / "azure"
SYSTEM = "Standard_D4s_v5"


def hourly(sku: str, region: str = "eastus") -> float:
    price = prices.usd_per_hour(sku, region)
    assert price is not None, f"no price for {sku}"
    return price


@pytest.mark.parametrize("model_size", MODEL_SIZES)
def test_each_profile_exports_its_cost_from_the_price_table(model_size):
    run = size_program(model_size)
    # Container logs are on by default: their 1 GB daily cap, as if reached every day.
    expected = hourly(ADDON_PROFILES[model_size].instance_types[0]) + hourly(SYSTEM) + logs_at_cap(1)
    assert run.outputs["estimatedHourlyCostUsd"] == pytest.approx(expected)
    assert run.outputs["estimatedMonthlyCostUsd"] == pytest.approx(round(expected * HOURS_PER_MONTH, 2), abs=0.01)
    price = prices.price_of(SYSTEM, "eastus")
    assert f"{price.region} as of {price.as_of}" in run.outputs["estimatedCostBasis"]


def test_more_nodes_and_a_front_door_cost_more():
    # The front door's own pods run on the system pool: what it adds is its load balancer and public IP. (The stack's
    # budget costs nothing.)
    assert (PUBLIC_AT_SCALE["nodeCount"], PUBLIC_AT_SCALE["systemNodeCount"]) == (2, 2)
    run = size_program("small", **PUBLIC_AT_SCALE)
    expected = (2 * hourly(ADDON_PROFILES["small"].instance_types[0]) + 2 * hourly(SYSTEM)
                + hourly(prices.LOAD_BALANCER) + hourly(prices.PUBLIC_IP) + logs_at_cap(1))
    assert run.outputs["estimatedHourlyCostUsd"] == pytest.approx(expected)


def logs_at_cap(gigabytes: int) -> float:
    return gigabytes * hourly(prices.LOG_ANALYTICS_GB_PER_DAY)


def test_monitoring_costs_grafana_and_logs_at_their_daily_cap_and_says_what_it_leaves_out():
    run = size_program("cpu", **MONITORED)  # Grafana, and a 5 GB daily cap
    expected = hourly(ADDON_PROFILES["cpu"].instance_types[0]) + hourly(SYSTEM) + logs_at_cap(5) + hourly(
        prices.MANAGED_GRAFANA)
    assert run.outputs["estimatedHourlyCostUsd"] == pytest.approx(expected, abs=1e-4)
    # $2.30 per GB ingested: 5 GB a day is $11.50 a day.
    assert logs_at_cap(5) * 24 == pytest.approx(11.50, abs=0.01)
    basis = run.outputs["estimatedCostBasis"]
    assert "Grafana's $6 per active user a month not counted" in basis
    assert "managed Prometheus" in basis and "not counted" in basis
    # The Grafana price is another region's: said, but not as a VM price the refresh command could fix.
    assert "westeurope as of 2026-10" in basis and "./scripts/prices" not in basis
    quiet = size_program("cpu", **UNATTENDED)  # no container logs, metrics or alerts (nor upgrades: free anyway)
    assert quiet.outputs["estimatedHourlyCostUsd"] == pytest.approx(
        hourly(ADDON_PROFILES["cpu"].instance_types[0]) + hourly(SYSTEM))
    assert "Prometheus" not in quiet.outputs["estimatedCostBasis"]


def test_a_region_without_prices_falls_back_and_says_so():
    config = size_config("small")
    config["azure-native:location"] = "swedencentral"
    basis = program(config).outputs["estimatedCostBasis"]
    assert "no swedencentral prices in the table" in basis
    assert "./scripts/prices --region swedencentral" in basis


def test_a_size_without_a_known_price_is_named_not_guessed():
    unpriced = next((name for name, size in VM_SIZES.items()
                     if size.has_gpu and prices.price_of(name, "eastus") is None), None)
    if unpriced is None:
        pytest.skip("every GPU size in the catalog has a price")
    run = size_program("large", instanceType=unpriced)
    assert run.outputs["estimatedHourlyCostUsd"] == pytest.approx(hourly(SYSTEM) + logs_at_cap(1))
    assert f"no price known for {unpriced}, not counted" in run.outputs["estimatedCostBasis"]


def test_prices_are_looked_up_for_the_stacks_own_region(tmp_path, monkeypatch):
    monkeypatch.setitem(prices.PRICES, ("westeurope", SYSTEM), prices.Price(SYSTEM, 0.5, "westeurope", "2026-11"))
    assert prices.price_of(SYSTEM, "westeurope").usd_per_hour == 0.5
    assert prices.price_of(SYSTEM, "eastus").region == "eastus"


def recorded_pages() -> dict[str, dict]:
    """The recorded Retail Prices answers, keyed by the URL the refresh asks for."""
    first, second = refresh_command.query_urls("eastus", VM_SIZES)
    page_1 = json.loads((FIXTURES / "retail-prices-eastus-page1.json").read_text())
    page_2 = json.loads((FIXTURES / "retail-prices-eastus-page2.json").read_text())
    page_3 = json.loads((FIXTURES / "retail-prices-eastus-page3.json").read_text())
    return {first: page_1, page_1["NextPageLink"]: page_2, second: page_3}


def test_refresh_keeps_only_linux_pay_as_you_go_and_follows_next_page(tmp_path):
    table = tmp_path / "prices.csv"
    shutil.copy(prices.PRICES_FILE, table)
    with table.open("a") as handle:
        handle.write("westeurope,Standard_D8s_v5,0.42,2025-01,retail-prices-api\n")
    pages = recorded_pages()
    asked: list[str] = []

    def fetch(url: str) -> dict:
        asked.append(url)
        return pages[url]

    fetched = refresh_command.refresh(["eastus"], VM_SIZES, "2026-11-22", fetch, path=table)
    assert asked == list(pages)
    # Windows, Low Priority and DevTest meters of the same sizes are in the pages and dropped; Linux Spot meters
    # become the sizes' spot rows.
    assert fetched["eastus"] == {
        "Standard_D8s_v5": 0.384, "Standard_NC24ads_A100_v4": 3.673, "Standard_NV36ads_A10_v5": 3.2,
        "spot/Standard_D8s_v5": 0.0768, "spot/Standard_NC24ads_A100_v4": 0.7346,
    }
    refreshed = prices.load_prices(table)
    assert refreshed[("eastus", "Standard_NC24ads_A100_v4")] == prices.Price(
        "Standard_NC24ads_A100_v4", 3.673, "eastus", "2026-11-22")
    assert ("eastus", "Standard_D4s_v5") not in refreshed  # not in the answer: no stale row kept
    assert refreshed[("eastus", "spot/Standard_NC24ads_A100_v4")].as_of == "2026-11-22"
    assert ("eastus", "spot/Standard_D4s_v5") not in refreshed  # the shipped spot row is replaced too
    assert refreshed[("westeurope", "Standard_D8s_v5")].as_of == "2025-01"  # other regions untouched
    # Network rows are kept.
    assert refreshed[("eastus", prices.LOAD_BALANCER)] == prices.PRICES[("eastus", prices.LOAD_BALANCER)]
    assert table.read_text().startswith("# Hourly list prices")


def test_query_asks_for_consumption_vm_prices_in_the_region():
    url = refresh_command.query_urls("eastus", ["Standard_D8s_v5"])[0]
    assert url.startswith("https://prices.azure.com/api/retail/prices?%24filter=")
    odata = parse_qs(urlsplit(url).query)["$filter"][0]
    assert odata == (
        "serviceName eq 'Virtual Machines' and priceType eq 'Consumption' and armRegionName eq 'eastus' "
        "and (armSkuName eq 'Standard_D8s_v5')"
    )


def test_refresh_command_reports_an_unreachable_api_and_leaves_the_table(capsys):
    def offline(url: str) -> dict:
        raise OSError("network is unreachable")

    before = prices.PRICES_FILE.read_text()
    assert refresh_command.main(["--region", "eastus"], fetch=offline) == 1
    assert "could not be reached" in capsys.readouterr().err
    assert prices.PRICES_FILE.read_text() == before
