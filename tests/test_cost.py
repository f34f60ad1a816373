"""Cost figures per profile come from the price table; the refresh command parses Retail Prices pages."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from stacks import prices
from stacks.catalog import VM_SIZES
from tests.harness import run_program
from tests.programs import size_config

FIXTURES = Path(__file__).parent / "fixtures" / "azure"

# (model nodes + one Standard_D4s_v5 system node) at the table's eastus prices.
EXPECTED_HOURLY = {
    "cpu": 0.384 + 0.192,
    "small": 3.2 + 0.192,
    "medium": 3.673 + 0.192,
    "large": 14.692 + 0.192,
}


@pytest.mark.parametrize("model_size", EXPECTED_HOURLY)
def test_each_profile_exports_its_cost_from_the_price_table(model_size):
    run = run_program(size_config(model_size), secret_keys=("kaito-aks:hfToken",) if model_size == "large" else ())
    hourly = EXPECTED_HOURLY[model_size]
    assert run.outputs["estimatedHourlyCostUsd"] == pytest.approx(hourly)
    assert run.outputs["estimatedMonthlyCostUsd"] == pytest.approx(round(hourly * 730, 2))
    assert "eastus as of 2024-08" in run.outputs["estimatedCostBasis"]


def test_more_nodes_and_a_public_app_cost_more():
    run = run_program(size_config("small", nodeCount=2, systemNodeCount=2, exposure="public",
                                  allowedSourceRanges=["203.0.113.7/32"]))
    assert run.outputs["estimatedHourlyCostUsd"] == pytest.approx(2 * 3.2 + 2 * 0.192 + 0.025 + 0.005)


def test_a_region_without_prices_falls_back_and_says_so():
    config = size_config("small")
    config["azure-native:location"] = "swedencentral"
    basis = run_program(config).outputs["estimatedCostBasis"]
    assert "no swedencentral prices in the table" in basis
    assert "python -m stacks.prices --region swedencentral" in basis


def test_a_size_without_a_known_price_is_named_not_guessed():
    run = run_program(size_config("large", instanceType="Standard_ND96isr_H200_v5"), secret_keys=("kaito-aks:hfToken",))
    assert run.outputs["estimatedHourlyCostUsd"] == pytest.approx(0.192)
    assert "no price known for Standard_ND96isr_H200_v5, not counted" in run.outputs["estimatedCostBasis"]


def recorded_pages() -> dict[str, dict]:
    """The recorded Retail Prices answers, keyed by the URL the refresh asks for."""
    first, second = prices.query_urls("eastus", VM_SIZES)
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

    fetched = prices.refresh(["eastus"], VM_SIZES, "2026-11-22", fetch, path=table)
    assert asked == list(pages)
    # Windows, Spot, Low Priority and DevTest meters of the same sizes are in the pages and dropped.
    assert fetched["eastus"] == {"Standard_D8s_v5": 0.384, "Standard_NC24ads_A100_v4": 3.673, "Standard_NV36ads_A10_v5": 3.2}
    refreshed = prices.load_prices(table)
    assert refreshed[("eastus", "Standard_NC24ads_A100_v4")] == prices.Price("Standard_NC24ads_A100_v4", 3.673, "eastus", "2026-11-22")
    assert ("eastus", "Standard_D4s_v5") not in refreshed  # not in the answer: no stale row kept
    assert refreshed[("westeurope", "Standard_D8s_v5")].as_of == "2025-01"  # other regions untouched
    assert refreshed[("eastus", prices.LOAD_BALANCER)].usd_per_hour == 0.025  # network rows kept
    assert table.read_text().startswith("# Hourly list prices")


def test_query_asks_for_consumption_vm_prices_in_the_region():
    url = prices.query_urls("eastus", ["Standard_D8s_v5"])[0]
    assert url.startswith("https://prices.azure.com/api/retail/prices?%24filter=")
    from urllib.parse import parse_qs, urlsplit

    odata = parse_qs(urlsplit(url).query)["$filter"][0]
    assert odata == (
        "serviceName eq 'Virtual Machines' and priceType eq 'Consumption' and armRegionName eq 'eastus' "
        "and (armSkuName eq 'Standard_D8s_v5')"
    )


def test_refresh_command_reports_an_unreachable_api_and_leaves_the_table(capsys, monkeypatch, tmp_path):
    def offline(url: str) -> dict:
        raise OSError("network is unreachable")

    before = prices.PRICES_FILE.read_text()
    assert prices.main(["--region", "eastus"], fetch=offline) == 1
    assert "could not be reached" in capsys.readouterr().err
    assert prices.PRICES_FILE.read_text() == before
