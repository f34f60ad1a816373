"""A fake of what preflight asks Azure, answering from recorded response shapes (tests/fixtures/azure)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "azure"


def recorded(name: str) -> list[dict]:
    return json.loads((FIXTURES / name).read_text())["value"]


class FakeAzure:
    """Per-region SKUs and usages (eastus from the fixtures; other regions opt in), plus the pools."""

    def __init__(self) -> None:
        self.skus = {"eastus": recorded("resource-skus-eastus.json")}
        self.usage = {"eastus": recorded("usages-eastus.json")}
        self.pools: list[dict] = []
        self.karpenter: list[dict] = []
        # Feature registrations, as GET .../providers/Microsoft.Features/providers/<ns>/features/<name> answers
        # (Azure/azure-rest-api-specs@9057ffbc:specification/resources/resource-manager/Microsoft.Features/stable/
        # 2025-03-01/examples/getFeature.json).
        self.features: dict[tuple[str, str], str] = {("Microsoft.Compute", "EncryptionAtHost"): "Registered"}
        self.failures: list[Exception] = []
        self.calls: list[tuple[str, tuple]] = []

    def add_region(self, region: str, like: str = "eastus") -> None:
        self.skus[region] = copy.deepcopy(self.skus[like])
        self.usage[region] = copy.deepcopy(self.usage[like])

    def set_usage(self, name: str, used: int, limit: int, region: str = "eastus") -> None:
        for item in self.usage[region]:
            if item["name"]["value"] == name:
                item["currentValue"], item["limit"] = used, limit
                return
        raise KeyError(name)

    def remove_sku(self, name: str, region: str = "eastus") -> None:
        self.skus[region] = [s for s in self.skus[region] if s["name"] != name]

    def _answer(self, what: str, args: tuple, value):
        self.calls.append((what, args))
        if self.failures:
            raise self.failures.pop(0)
        return copy.deepcopy(value)

    def resource_skus(self, region: str) -> list[dict]:
        return self._answer("skus", (region,), self.skus.get(region, []))

    def usages(self, region: str) -> list[dict]:
        return self._answer("usages", (region,), self.usage.get(region, []))

    def existing_pools(self, resource_group: str, cluster: str) -> list[dict]:
        return self._answer("pools", (resource_group, cluster), self.pools)

    def karpenter_vms(self, resource_group: str, cluster: str) -> list[dict]:
        return self._answer("karpenter", (resource_group, cluster), self.karpenter)

    def feature(self, namespace: str, name: str) -> dict:
        state = self.features.get((namespace, name), "NotRegistered")
        return self._answer("feature", (namespace, name), _feature_body(namespace, name, state))

    def set_capability(self, size: str, name: str, value: str, region: str = "eastus") -> None:
        """Give a recorded SKU a capability the recording lacks (e.g. EncryptionAtHostSupported)."""
        sku = next(s for s in self.skus[region] if s["name"] == size)
        sku["capabilities"] = [c for c in sku.get("capabilities", []) if c["name"] != name] + [
            {"name": name, "value": value}]


def pool(name: str, vm_size: str, count: int, mode: str | None = "User") -> dict:
    """An agent pool as the AKS AgentPools API's as_dict() returns it."""
    return {"name": name, "properties": {"vmSize": vm_size, "count": count, "mode": mode}}


def karpenter_vm(vm_size: str, priority: str = "Regular", cluster: str = "aks-kaito-aks-test") -> dict:
    """A VM Azure Karpenter made, as the Compute VirtualMachines API's as_dict() returns it (tags as Azure
    Karpenter sets them: Azure/karpenter-provider-azure@v1.12.0:pkg/providers/launchtemplate/tags.go)."""
    tags = {"karpenter.azure.com_cluster": cluster, "karpenter.sh_nodepool": "kaito-model"}
    return {"location": "eastus", "tags": tags,
            "properties": {"priority": priority, "hardwareProfile": {"vmSize": vm_size}}}


def _feature_body(namespace: str, name: str, state: str) -> dict:
    return {"name": f"{namespace}/{name}", "properties": {"state": state},
            "id": f"/subscriptions/00000000-0000-0000-0000-0000000000aa/providers/Microsoft.Features/providers/"
                  f"{namespace}/features/{name}", "type": "Microsoft.Features/providers/features"}
