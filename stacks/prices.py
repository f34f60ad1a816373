"""Hourly list prices (stacks/data/prices.csv): data only. `./scripts/prices --region ...` refreshes them.

A price is looked up for the stack's own region; a region the table lacks falls back to the
reference region, and the Price says which region it really is, so estimates can say so.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

PRICES_FILE = Path(__file__).parent / "data" / "prices.csv"
# The region the shipped table was made for; other regions fall back to it, and say so.
REFERENCE_REGION = "eastus"
LOAD_BALANCER = "network/standard-load-balancer"
PUBLIC_IP = "network/standard-public-ip"
AKS_STANDARD_TIER = "aks/standard-tier"
LOG_ANALYTICS_GB_PER_DAY = "monitor/log-analytics-gb-per-day"
MANAGED_GRAFANA = "monitor/managed-grafana-standard"
FIELDS = ("region", "sku", "usd_per_hour", "as_of", "source")
# A VM size's Spot meter is kept as spot/<size>.
SPOT_PREFIX = "spot/"


@dataclass(frozen=True)
class Price:
    sku: str
    usd_per_hour: float
    region: str
    as_of: str

    def describe(self) -> str:
        return f"${self.usd_per_hour:g}/h ({self.region}, {self.as_of})"


def read_table(path: Path = PRICES_FILE) -> tuple[list[str], list[dict[str, str]]]:
    """The table's provenance comment lines and its rows."""
    lines = path.read_text(encoding="utf-8").splitlines()
    comments = [line for line in lines if line.startswith("#")]
    rows = list(csv.DictReader(line for line in lines if not line.startswith("#")))
    return comments, rows


def write_table(comments: list[str], rows: list[dict[str, str]], path: Path = PRICES_FILE) -> None:
    rows = sorted(rows, key=lambda row: (row["region"], row["sku"]))
    with open(path, "w", newline="", encoding="utf-8") as handle:
        handle.write("\n".join(comments) + "\n")
        writer = csv.DictWriter(handle, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def load_prices(path: Path = PRICES_FILE) -> dict[tuple[str, str], Price]:
    _, rows = read_table(path)
    return {
        (row["region"], row["sku"]): Price(row["sku"], float(row["usd_per_hour"]), row["region"], row["as_of"])
        for row in rows
    }


PRICES = load_prices()


def price_of(sku: str, region: str) -> Price | None:
    """The region's price, else the reference region's (its `region` field tells which), else any."""
    for key in ((region, sku), (REFERENCE_REGION, sku)):
        if key in PRICES:
            return PRICES[key]
    return next((price for (_, name), price in sorted(PRICES.items()) if name == sku), None)


def spot_sku(size: str) -> str:
    return f"{SPOT_PREFIX}{size}"


def is_vm_row(sku: str) -> bool:
    """A row the refresh rewrites: a VM size's on-demand or Spot price (the others name a service: network/...)."""
    return "/" not in sku or sku.startswith(SPOT_PREFIX)


def usd_per_hour(sku: str, region: str) -> float | None:
    price = price_of(sku, region)
    return price.usd_per_hour if price else None
