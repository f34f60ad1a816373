"""Azure public-cloud regions (stacks/data/azure-regions.csv, source and date in the file): data only."""

from __future__ import annotations

from stacks.catalog import read_csv
from stacks.config_kinds import closest_hint

REGIONS: dict[str, str] = {row["name"]: row["display_name"] for row in read_csv("azure-regions.csv")}
_BY_DISPLAY_NAME = {display.replace(" ", "").lower(): name for name, display in REGIONS.items()}


def region_problem(text: str) -> tuple[str, str] | None:
    """Why `text` is not an Azure region name as Azure Resource Manager spells it, with the fix; None if it is."""
    if text in REGIONS:
        return None
    folded = text.replace(" ", "").lower()
    if folded in REGIONS or folded in _BY_DISPLAY_NAME:
        right = folded if folded in REGIONS else _BY_DISPLAY_NAME[folded]
        return ("is not how Azure Resource Manager spells the region", f"use '{right}'")
    return (
        "is not an Azure region kaito-aks knows (stacks/data/azure-regions.csv)" + closest_hint(folded, list(REGIONS)),
        "use a name as `az account list-locations -o table` shows it, e.g. eastus, westeurope, swedencentral",
    )
