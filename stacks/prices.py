"""Hourly list prices (stacks/data/prices.csv) and the command that refreshes them.

    python -m stacks.prices --region eastus [--region westeurope ...]

asks the public Azure Retail Prices API (no account needed) for every VM size in the catalog and
rewrites that region's rows, dated today. Only Linux pay-as-you-go meters count: Windows, Spot,
Low Priority and DevTest meters are dropped.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import sys
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional

PRICES_FILE = Path(__file__).parent / "data" / "prices.csv"
RETAIL_PRICES_URL = "https://prices.azure.com/api/retail/prices"
# The region the shipped table was made for; other regions fall back to it, and say so.
REFERENCE_REGION = "eastus"
LOAD_BALANCER = "network/standard-load-balancer"
PUBLIC_IP = "network/standard-public-ip"
FIELDS = ("region", "sku", "usd_per_hour", "as_of", "source")


@dataclass(frozen=True)
class Price:
    sku: str
    usd_per_hour: float
    region: str
    as_of: str

    def describe(self) -> str:
        return f"${self.usd_per_hour:g}/h ({self.region}, {self.as_of})"


def _read_rows(path: Path = PRICES_FILE) -> tuple[list[str], list[dict[str, str]]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    comments = [line for line in lines if line.startswith("#")]
    rows = list(csv.DictReader(line for line in lines if not line.startswith("#")))
    return comments, rows


def load_prices(path: Path = PRICES_FILE) -> dict[tuple[str, str], Price]:
    _, rows = _read_rows(path)
    return {
        (row["region"], row["sku"]): Price(row["sku"], float(row["usd_per_hour"]), row["region"], row["as_of"])
        for row in rows
    }


PRICES = load_prices()


def price_of(sku: str, region: str = REFERENCE_REGION) -> Optional[Price]:
    """The region's price, else the reference region's (its `region` field tells which), else any."""
    for key in ((region, sku), (REFERENCE_REGION, sku)):
        if key in PRICES:
            return PRICES[key]
    return next((price for (_, name), price in sorted(PRICES.items()) if name == sku), None)


# --- refresh -----------------------------------------------------------------------------------

Fetch = Callable[[str], dict]


def _fetch_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.load(response)


def linux_pay_as_you_go(item: dict) -> bool:
    """Keep a Retail Prices item only if it is the Linux, on-demand, hourly price of a VM."""
    return (
        item.get("serviceName") == "Virtual Machines"
        and item.get("type") == "Consumption"
        and item.get("unitOfMeasure") == "1 Hour"
        and not item.get("productName", "").endswith(" Windows")
        and " Win" not in item.get("productName", "")
        and " Spot" not in item.get("skuName", "")
        and " Low Priority" not in item.get("skuName", "")
    )


def query_urls(region: str, skus: Iterable[str], batch: int = 10) -> list[str]:
    names = sorted(skus)
    urls = []
    for start in range(0, len(names), batch):
        names_filter = " or ".join(f"armSkuName eq '{name}'" for name in names[start:start + batch])
        odata = (
            f"serviceName eq 'Virtual Machines' and priceType eq 'Consumption' "
            f"and armRegionName eq '{region}' and ({names_filter})"
        )
        urls.append(f"{RETAIL_PRICES_URL}?{urllib.parse.urlencode({'$filter': odata})}")
    return urls


def fetch_region_prices(region: str, skus: Iterable[str], fetch: Fetch = _fetch_json) -> dict[str, float]:
    """Linux pay-as-you-go $/h per VM size in `region`, following NextPageLink to the end."""
    found: dict[str, float] = {}
    for url in query_urls(region, skus):
        next_url: Optional[str] = url
        while next_url:
            page = fetch(next_url)
            for item in page.get("Items", []):
                if linux_pay_as_you_go(item) and item.get("armRegionName") == region:
                    sku = item["armSkuName"]
                    price = float(item["retailPrice"])
                    # Several Linux meters can exist for one size; the list price is the lowest.
                    found[sku] = min(price, found.get(sku, price))
            next_url = page.get("NextPageLink")
    return found


def refresh(regions: list[str], skus: Iterable[str], today: str, fetch: Fetch = _fetch_json,
            path: Path = PRICES_FILE) -> dict[str, dict[str, float]]:
    """Rewrite the VM rows of `regions` in the price table; other rows stay as they are."""
    sku_list = sorted(set(skus))
    fetched = {region: fetch_region_prices(region, sku_list, fetch) for region in regions}
    comments, rows = _read_rows(path)
    kept = [row for row in rows if not (row["region"] in fetched and not row["sku"].startswith("network/"))]
    for region, prices in fetched.items():
        kept.extend(
            {"region": region, "sku": sku, "usd_per_hour": f"{price:g}", "as_of": today, "source": "retail-prices-api"}
            for sku, price in sorted(prices.items())
        )
    kept.sort(key=lambda row: (row["region"], row["sku"]))
    with open(path, "w", newline="", encoding="utf-8") as handle:
        handle.write("\n".join(comments) + "\n")
        writer = csv.DictWriter(handle, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(kept)
    return fetched


def main(argv: Optional[list[str]] = None, fetch: Fetch = _fetch_json) -> int:
    from stacks.catalog import VM_SIZES

    parser = argparse.ArgumentParser(prog="python -m stacks.prices", description=__doc__.splitlines()[0])
    parser.add_argument("--region", action="append", required=True, help="Azure region, e.g. eastus (repeatable)")
    args = parser.parse_args(argv)
    today = datetime.date.today().isoformat()
    try:
        fetched = refresh(args.region, VM_SIZES, today, fetch)
    except OSError as error:
        print(f"prices: the Retail Prices API could not be reached ({error}); the table is unchanged", file=sys.stderr)
        return 1
    for region, prices in fetched.items():
        missing = sorted(set(VM_SIZES) - set(prices))
        print(f"{region}: {len(prices)} prices as of {today}" + (f"; none found for {', '.join(missing)}" if missing else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
