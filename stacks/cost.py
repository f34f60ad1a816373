"""What a stack costs per hour and per month at list prices (stacks/data/prices.csv)."""

from __future__ import annotations

from dataclasses import dataclass

from stacks import prices
from stacks.settings import Settings

HOURS_PER_MONTH = 730


@dataclass(frozen=True)
class CostLine:
    item: str
    sku: str
    quantity: int
    price: prices.Price | None
    workspace: str | None = None
    """The model whose nodes these are, in a stack of several models."""

    @property
    def usd_per_hour(self) -> float | None:
        return None if self.price is None else self.price.usd_per_hour * self.quantity


@dataclass(frozen=True)
class CostEstimate:
    region: str
    lines: tuple[CostLine, ...]
    metrics: bool = False
    spot: bool = False
    """The model's nodes are spot: their price is the last recorded one, and the node may be evicted."""
    max_replicas: str | None = None
    """With autoscaling: the most copies of the models ("3", or "3 of ws-a and 2 of ws-b"), whose cost is
    `hourly_usd_at_most`."""
    hourly_usd_at_most: float | None = None
    weights_gib: int = 0
    """Space the mirrored weights take in Blob (kaito-aks:modelWeights blob), at most."""

    @property
    def hourly_usd(self) -> float:
        return round(sum(line.usd_per_hour or 0.0 for line in self.lines), 4)

    @property
    def monthly_usd(self) -> float:
        return round(self.hourly_usd * HOURS_PER_MONTH, 2)

    def model_usd_per_hour(self, workspace: str) -> float:
        """What one model's nodes cost an hour (at its fewest copies), in a stack of several models."""
        return round(sum(line.usd_per_hour or 0.0 for line in self.lines if line.workspace == workspace), 4)

    @property
    def unpriced(self) -> list[str]:
        return [line.sku for line in self.lines if line.price is None]

    def basis(self) -> str:
        """Where the prices come from, in words: region and date, and what is not counted."""
        sources = sorted({(line.price.region, line.price.as_of) for line in self.lines if line.price})
        text = "list prices, Linux pay-as-you-go, " + ", ".join(f"{region} as of {as_of}" for region, as_of in sources)
        if any(line.price.region != self.region for line in self.lines if line.price and prices.is_vm_row(line.sku)):
            text += f" (no {self.region} prices in the table: refresh it with ./scripts/prices --region {self.region})"
        if self.hourly_usd_at_most is not None:
            text += (f"; at the fewest copies of the model, up to ${self.hourly_usd_at_most:g}/h with "
                     f"{self.max_replicas} while demand lasts")
        if self.spot:
            text += ("; spot at its recorded price (it changes with demand; the most it can cost is the on-demand "
                     "price), and an evicted node costs nothing until its replacement starts")
        if self.unpriced:
            text += f"; no price known for {', '.join(self.unpriced)}, not counted"
        paid_tier = any(line.sku == prices.AKS_STANDARD_TIER for line in self.lines)
        text += ("; disks and egress not counted" if paid_tier else
                 "; disks, egress and the free AKS control plane not counted")
        if any(line.sku == prices.MANAGED_GRAFANA for line in self.lines):
            text += "; Grafana's $6 per active user a month not counted"
        if self.weights_gib:
            text += f"; the mirrored weights in Blob (at most {self.weights_gib} GiB, Standard LRS) not counted"
        if self.metrics:
            text += "; managed Prometheus ($0.16 per 10 million samples ingested) not counted"
        return text


def estimate(settings: Settings) -> CostEstimate:
    config = settings.config
    region = settings.location
    lines = [
        CostLine("system pool", config.system_node_vm_size, config.system_node_count,
                 prices.price_of(config.system_node_vm_size, region)),
    ]
    several = len(settings.models) > 1
    if not config.paused:
        # Every copy of a model has its own nodes: the estimate is at the fewest copies (minReplicas).
        for served in settings.models:
            lines.append(model_nodes_line(served.instance_type, settings.copy_nodes(served)
                                          * served.min_replicas, config.capacity_type, region,
                                          served.workspace_name if several else None))
    if config.demo_app and settings.public:
        lines.append(CostLine("load balancer", prices.LOAD_BALANCER, 1, prices.price_of(prices.LOAD_BALANCER, region)))
        lines.append(CostLine("public IP", prices.PUBLIC_IP, 1, prices.price_of(prices.PUBLIC_IP, region)))
    if config.sku_tier == "Standard":
        lines.append(CostLine("AKS Standard tier (SLA)", prices.AKS_STANDARD_TIER, 1,
                              prices.price_of(prices.AKS_STANDARD_TIER, region)))
    if config.container_logs:
        # As if the daily cap were reached every day: the most the logs can cost.
        lines.append(CostLine(f"container logs (at the {config.log_daily_cap_gb} GB daily cap)",
                              prices.LOG_ANALYTICS_GB_PER_DAY, config.log_daily_cap_gb,
                              prices.price_of(prices.LOG_ANALYTICS_GB_PER_DAY, region)))
    if config.grafana:
        lines.append(CostLine("Managed Grafana (Standard)", prices.MANAGED_GRAFANA, 1,
                              prices.price_of(prices.MANAGED_GRAFANA, region)))
    most = None
    scaled = [served for served in settings.models if served.max_replicas > served.min_replicas]
    if scaled and not config.paused:
        more = 0.0
        for served in scaled:
            per_copy = model_nodes_line(served.instance_type, settings.copy_nodes(served),
                                        config.capacity_type, region)
            more += (per_copy.usd_per_hour or 0.0) * (served.max_replicas - served.min_replicas)
        most = round(sum(line.usd_per_hour or 0.0 for line in lines) + more, 4)
    weights_gib = sum(settings.mirror_size_gib(served) for served in settings.models if served.is_preset) \
        if settings.blob_weights else 0
    return CostEstimate(
        region, tuple(lines), metrics=config.metrics, spot=config.capacity_type == "spot", weights_gib=weights_gib,
        max_replicas=(" and ".join(f"{served.max_replicas} of {served.workspace_name}" for served in scaled)
                      if several else str(scaled[0].max_replicas)) if most is not None else None,
        hourly_usd_at_most=most)


def model_nodes_line(size: str, nodes: int, capacity_type: str, region: str, workspace: str | None = None) -> CostLine:
    """The model's nodes at the price of how they are bought. A spot node without a recorded spot price is counted
    at the on-demand price, the most spot can cost: Azure Karpenter buys it with max price -1 (Azure/karpenter-
    provider-azure@v1.12.0:pkg/providers/instance/vminstance.go). Settings warn that such a size may have no spot
    offering at all."""
    item = "model nodes" if workspace is None else f"model nodes of {workspace}"
    if capacity_type == "spot":
        spot = prices.price_of(prices.spot_sku(size), region)
        if spot is not None:
            return CostLine(f"{item} (spot)", prices.spot_sku(size), nodes, spot, workspace)
        return CostLine(f"{item} (spot, no spot price recorded: at the on-demand price, see the warning)", size,
                        nodes, prices.price_of(size, region), workspace)
    return CostLine(item, size, nodes, prices.price_of(size, region), workspace)
