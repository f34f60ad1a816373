"""Refresh the price table (stacks/data/prices.csv) from the public Azure Retail Prices API.

    ./scripts/prices --region eastus [--region westeurope ...]

asks for every VM size in the catalog (no account needed) and rewrites that region's VM rows,
dated today: each size's Linux pay-as-you-go price and its Linux Spot price (as spot/<size>, for
kaito-aks:capacityType spot). Windows, Low Priority and DevTest meters are dropped. Network rows
(load balancer, public IP) are left as they are.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path

from stacks import prices
from stacks.catalog import VM_SIZES

RETAIL_PRICES_URL = "https://prices.azure.com/api/retail/prices"

Fetch = Callable[[str], dict]


def _fetch_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.load(response)


def linux_meter(item: dict) -> str | None:
    """The table row a Retail Prices item prices: a VM size's Linux on-demand hourly price (the size's name),
    its Linux Spot price (spot/<size>), or None for anything else (Windows, Low Priority, DevTest, reservations)."""
    if not (
        item.get("serviceName") == "Virtual Machines"
        and item.get("type") == "Consumption"
        and item.get("unitOfMeasure") == "1 Hour"
        and not item.get("productName", "").endswith(" Windows")
        and " Win" not in item.get("productName", "")
        and " Low Priority" not in item.get("skuName", "")
    ):
        return None
    sku = item["armSkuName"]
    return prices.spot_sku(sku) if item.get("skuName", "").endswith(" Spot") else sku


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


def fetch_region_prices(region: str, skus: Iterable[str], fetch: Fetch = _fetch_json,
                        progress: Callable[[str], None] = lambda line: None) -> dict[str, float]:
    """Linux $/h per VM size (and per size's Spot meter) in `region`, following NextPageLink to the end."""
    found: dict[str, float] = {}
    urls = query_urls(region, skus)
    for number, url in enumerate(urls, 1):
        progress(f"prices: {region}: asking for batch {number} of {len(urls)}")
        next_url: str | None = url
        while next_url:
            page = fetch(next_url)
            for item in page.get("Items", []):
                sku = linux_meter(item)
                if sku is not None and item.get("armRegionName") == region:
                    price = float(item["retailPrice"])
                    # Several Linux meters can exist for one size; the list price is the lowest.
                    found[sku] = min(price, found.get(sku, price))
            next_url = page.get("NextPageLink")
    return found


def refresh(regions: list[str], skus: Iterable[str], today: str, fetch: Fetch = _fetch_json,
            path: Path = prices.PRICES_FILE, progress: Callable[[str], None] = lambda line: None,
            ) -> dict[str, dict[str, float]]:
    """Rewrite the VM rows of `regions` in the price table; other rows stay as they are."""
    sku_list = sorted(set(skus))
    fetched = {region: fetch_region_prices(region, sku_list, fetch, progress) for region in regions}
    comments, rows = prices.read_table(path)
    kept = [row for row in rows if not (row["region"] in fetched and prices.is_vm_row(row["sku"]))]
    for region, found in fetched.items():
        kept.extend(
            {"region": region, "sku": sku, "usd_per_hour": f"{price:g}", "as_of": today, "source": "retail-prices-api"}
            for sku, price in sorted(found.items())
        )
    prices.write_table(comments, kept, path)
    return fetched


def main(argv: list[str] | None = None, fetch: Fetch = _fetch_json) -> int:
    parser = argparse.ArgumentParser(prog="./scripts/prices", description=__doc__.splitlines()[0])
    parser.add_argument("--region", action="append", required=True, help="Azure region, e.g. eastus (repeatable)")
    args = parser.parse_args(argv)
    today = datetime.date.today().isoformat()
    try:
        fetched = refresh(args.region, VM_SIZES, today, fetch, progress=lambda line: print(line, flush=True))
    except OSError as error:
        print(f"prices: the Retail Prices API could not be reached ({error}); the table is unchanged", file=sys.stderr)
        return 1
    for region, found in fetched.items():
        missing = sorted(set(VM_SIZES) - set(found))
        no_spot = sorted(size for size in VM_SIZES if prices.spot_sku(size) not in found)
        none_found = f"; none found for {', '.join(missing)}" if missing else ""
        spot_note = f"; no Spot price for {', '.join(no_spot)}" if no_spot else ""
        print(f"{region}: {len(found)} prices as of {today}{none_found}{spot_note}")
    # The README's model-size table shows these prices: regenerate it in a fresh interpreter, which
    # reads the table just written.
    import subprocess

    return subprocess.run([sys.executable, "-m", "scripts.generate"], check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
