"""Preflight: before anything is created, check that Azure will give this stack its VMs.

For the stack's region (and `kaito-aks:preflightRegions` when nothing fits there) it asks Azure:
- is the VM size offered, and not restricted for this subscription (Resource SKUs API)?
- do both the regional `cores` counter and the size's family counter have room for vCPUs x nodes,
  the system pool included (Compute usages API)? Pools the cluster already has are already counted
  in the usage, so a second `pulumi up` does not need the room twice.

When `kaito-aks:instanceType` is not set it picks the profile's first size that passes and says
why earlier ones were skipped; when nothing passes it fails with a table and the next step.

In the program it runs between settings and compose (`kaito-aks:preflight`, default true).
`./scripts/preflight <stack>` (scripts/preflight.py) prints the same check as a report.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from components import azure_api
from stacks.catalog import VM_SIZES
from stacks.settings import ConfigError, ServedModel, Settings

QUOTA_PORTAL = "https://portal.azure.com/#view/Microsoft_Azure_Capacity/QuotaMenuBlade/~/myQuotas"
TURN_OFF = "`pulumi config set kaito-aks:preflight false`"
RETRIABLE_STATUS = {408, 429, 500, 502, 503, 504}


class PreflightError(ConfigError):
    """Azure would not give this stack its VMs, or the check itself could not run."""


class AzureCapacity(Protocol):
    """What preflight asks Azure, as REST-shaped dicts (the SDK's as_dict())."""

    def resource_skus(self, region: str) -> list[dict]: ...

    def usages(self, region: str) -> list[dict]: ...

    def existing_pools(self, resource_group: str, cluster: str) -> list[dict]: ...

    def karpenter_vms(self, resource_group: str, cluster: str) -> list[dict]:
        """The VMs Azure Karpenter made for the cluster (in its node resource group); none if it does not exist."""
        ...

    def feature(self, namespace: str, name: str) -> dict:
        """A subscription's preview-feature registration (Microsoft.Features, GET .../features/<name>)."""
        ...


# Encryption at host needs this subscription feature registered (MS Learn "Host-based encryption on AKS",
# Before you begin: `az feature register --namespace Microsoft.Compute --name EncryptionAtHost`), and a VM size
# whose Resource SKU capability EncryptionAtHostSupported is "True".
ENCRYPTION_AT_HOST_FEATURE = ("Microsoft.Compute", "EncryptionAtHost")
ENCRYPTION_AT_HOST_CAPABILITY = "EncryptionAtHostSupported"


# The usages API's counter for Spot vCPUs, one per region for all families ("Total Regional Spot vCPUs").
SPOT_QUOTA = "lowPriorityCores"
# Azure Karpenter's VMs are not agent pools: it tags each with the cluster's name (Azure/karpenter-provider-azure@
# v1.12.0:pkg/providers/launchtemplate/tags.go, KarpenterManagedTagKey), which is how preflight finds what the stack's
# model nodes already hold.
KARPENTER_CLUSTER_TAG = "karpenter.azure.com_cluster"
# A Resource SKU capability: whether the size can be bought as Spot (Low Priority) at all.
SPOT_CAPABILITY = "LowPriorityCapable"


def normalize_family(name: str) -> str:
    # The SKUs API and the usages API spell families differently ("Standard NCASv3_T4 Family" vs
    # "standardNCASv3_T4Family"): compare lower-cased without spaces.
    return name.replace(" ", "").lower()


@dataclass(frozen=True)
class Counter:
    name: str
    used: int
    limit: int

    def room_for(self, extra: int) -> bool:
        return self.used + extra <= self.limit

    def describe(self) -> str:
        return f"{self.used}/{self.limit}"


@dataclass
class SizeCheck:
    """One candidate size in one region."""

    size: str
    region: str
    vcpus_needed: int
    nodes: int = 1
    offered: bool = True
    offer_note: str = "offered"
    family: str = ""
    family_counter: Counter | None = None
    family_extra: int = 0
    regional_counter: Counter | None = None
    regional_extra: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "size": self.size, "region": self.region, "nodes": self.nodes, "ok": self.ok, "offered": self.offered,
            "offerNote": self.offer_note, "quotaFamily": self.family, "vcpusNeeded": self.vcpus_needed,
            "familyQuota": self.family_counter.describe() if self.family_counter else None,
            "regionalQuota": self.regional_counter.describe() if self.regional_counter else None,
            "problems": self.problems,
        }


@dataclass
class RegionReport:
    region: str
    checks: list[SizeCheck]
    system_pool_problem: str | None = None

    @property
    def chosen(self) -> SizeCheck | None:
        return next((check for check in self.checks if check.ok), None)


@dataclass
class PreflightReport:
    """One model's check (the stack's own model's, with the additional models' reports in `additional`)."""

    settings: Settings
    home: RegionReport
    elsewhere: list[RegionReport]
    subscription_id: str
    blocking: str | None = None
    """Something about the existing cluster that no VM size fixes (its network does not suit the settings)."""
    served: ServedModel | None = None
    """The model checked; None: the stack's own."""
    additional: list[PreflightReport] = field(default_factory=list)
    """The additional models' checks, each counting the nodes of the models before it."""

    @property
    def model(self) -> ServedModel:
        return self.served or self.settings.primary

    @property
    def chosen(self) -> str | None:
        return self.home.chosen.size if self.home.chosen else None

    @property
    def every_model(self) -> list[PreflightReport]:
        return [self, *self.additional]

    @property
    def first_failure(self) -> PreflightReport | None:
        """The first model with no size that fits, in the order the models are checked."""
        return next((report for report in self.every_model if report.chosen is None), None)

    def explanation(self) -> list[str]:
        lines = []
        # With several models, each line says whose it is.
        prefix = f"preflight ({self.model.workspace_name})" if len(self.settings.models) > 1 else "preflight"
        for check in self.home.checks:
            if check.ok:
                family = check.family_counter.describe() if check.family_counter else "?"
                regional = check.regional_counter.describe() if check.regional_counter else "?"
                lines.append(f"{prefix}: {check.size} in {check.region}: offered, quota ok (family {check.family} "
                             f"{family}, regional {regional}, needs {check.family_extra} more)")
                break
            lines.append(f"{prefix}: skipped {check.size} in {check.region}: {'; '.join(check.problems)}")
        return lines

    def failure_message(self) -> str:
        settings = self.settings
        model = self.model
        earlier = self.settings.models[:self.settings.models.index(model)]
        head = (
            f"preflight: no VM size for {model.model} is available in "
            f"{settings.location} for subscription {self.subscription_id}. Nothing was created."
            + (f" (Counted with the nodes of {', '.join(served.model for served in earlier)}, checked first; "
               f"serving fewer models needs less: `pulumi config rm --path '{model.keys.entry_key}'`.)"
               if earlier else "")
        )
        table = render_table(self.home.checks)
        steps = ["Next steps:"]
        families = sorted({c.family for c in self.home.checks
                           if c.offered and c.family and any("quota" in p for p in c.problems)})
        for family in families:
            need = max(c.family_counter.used + c.family_extra for c in self.home.checks
                       if c.family == family and c.family_counter)
            steps.append(
                f"  - request quota for {family} in {settings.location} (at least {need} vCPUs): {QUOTA_PORTAL} "
                f"(Compute, filter by the family), or: az quota update --resource-name {family} "
                f"--scope /subscriptions/{self.subscription_id}/providers/Microsoft.Compute/locations/"
                f"{settings.location} "
                f"--limit-object value={need} limit-object-type=LimitValue --resource-type "
                f"{'lowPriority' if family == SPOT_QUOTA else 'dedicated'}"
            )
        if any("regional" in p for c in self.home.checks for p in c.problems):
            steps.append(
                f"  - raise 'Total Regional vCPUs' (cores) in {settings.location} the same way: {QUOTA_PORTAL}"
            )
        working = [(r.region, r.chosen.size) for r in self.elsewhere if r.chosen]
        for region, size in working:
            steps.append(f"  - {size} is available in {region}: `pulumi config set azure-native:location {region}`")
        if self.elsewhere and not working:
            regions = ", ".join(r.region for r in self.elsewhere)
            steps.append(f"  - none of {regions} (kaito-aks:preflightRegions) has room either")
        if not self.elsewhere:
            steps.append("  - list other regions to check in kaito-aks:preflightRegions, e.g. "
                         "`pulumi config set --path 'kaito-aks:preflightRegions[0]' westeurope`")
        if not model.profile.cpu_only:
            steps.append(
                f"  - or serve a CPU model that needs no GPU quota: `{model.keys.set_command('modelSize', 'cpu')}`"
            )
        return "\n".join([head, table, *steps])

    def as_dict(self) -> dict[str, Any]:
        return {
            "stack": self.settings.stack, "region": self.settings.location, "model": self.model.model,
            "workspaceName": self.model.workspace_name,
            "nodeCount": self.home.chosen.nodes if self.home.chosen else None,
            "subscriptionId": self.subscription_id, "chosen": self.chosen,
            "checks": [check.as_dict() for check in self.home.checks],
            "otherRegions": [
                {"region": r.region, "chosen": r.chosen.size if r.chosen else None,
                 "checks": [c.as_dict() for c in r.checks]}
                for r in self.elsewhere
            ],
            **({"additionalModels": [report.as_dict() for report in self.additional]} if self.additional else {}),
        }


def render_table(checks: Iterable[SizeCheck]) -> str:
    header = (
        "VM size", "nodes", "region", "offered", "family quota used/limit", "regional used/limit", "vCPUs needed",
        "verdict",
    )
    rows = [header]
    for c in checks:
        rows.append((
            c.size, str(c.nodes), c.region, "yes" if c.offered else f"no ({c.offer_note})",
            f"{c.family} {c.family_counter.describe()}" if c.family_counter else (c.family or "-"),
            c.regional_counter.describe() if c.regional_counter else "-",
            str(c.vcpus_needed), "ok" if c.ok else "; ".join(c.problems),
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    return "\n".join(
        "  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])) + "  " + row[-1] for row in rows
    )


# --- the decision ------------------------------------------------------------------------------


def _capability(sku: dict, name: str) -> str | None:
    return next((c.get("value") for c in sku.get("capabilities") or [] if c.get("name") == name), None)


def _restriction(sku: dict, region: str) -> str | None:
    for restriction in sku.get("restrictions") or []:
        if restriction.get("type") != "Location":
            continue
        info = restriction.get("restrictionInfo") or {}
        places = [p.lower() for p in (info.get("locations") or restriction.get("values") or [])]
        if not places or region.lower() in places:
            return f"restricted: {restriction.get('reasonCode') or 'unknown reason'}"
    return None


def _held_vcpus(machines: Iterable[tuple[str, int]], sku_index: dict[str, dict]) -> tuple[dict[str, int], int]:
    """vCPUs that (VM size, count) pairs already hold, per normalized family and in total."""
    per_family: dict[str, int] = {}
    total = 0
    for size, count in machines:
        vcpus, family = _size_facts(size, sku_index)
        per_family[normalize_family(family)] = per_family.get(normalize_family(family), 0) + vcpus * count
        total += vcpus * count
    return per_family, total


def _pool_machines(pools: Iterable[dict]) -> list[tuple[str, int]]:
    """The cluster's agent pools as (VM size, count)."""
    return [(properties.get("vmSize", ""), int(properties.get("count") or 0))
            for properties in (pool.get("properties", pool) for pool in pools)]


def _karpenter_machines(vms: Iterable[dict], spot: bool) -> list[tuple[str, int]]:
    """Azure Karpenter's VMs of one priority (spot, or regular) as (VM size, 1)."""
    return [((properties.get("hardwareProfile") or {}).get("vmSize", ""), 1)
            for properties in (vm.get("properties", vm) for vm in vms)
            if (properties.get("priority") == "Spot") == spot]


def _size_facts(size: str, sku_index: dict[str, dict]) -> tuple[int, str]:
    sku = sku_index.get(size.lower())
    if size in VM_SIZES:
        known = VM_SIZES[size]
        return known.vcpus, (sku or {}).get("family") or known.quota_family
    if sku is not None:
        return int(float(_capability(sku, "vCPUs") or 0)), sku.get("family", "")
    return 0, ""


def check_region(settings: Settings, capacity: AzureCapacity, region: str, candidates: Iterable[str],
                 existing: list[dict], call: Callable, karpenter_vms: list[dict] | None = None,
                 served: ServedModel | None = None, planned: Iterable[tuple[str, int]] = ()) -> RegionReport:
    """Which of `candidates` can hold the copies of `served` (the stack's own model by default) in `region`, with
    `planned` (VM size, nodes) of the stack's other models already counted against the quota."""
    served = served or settings.primary
    skus = call(capacity.resource_skus, region)
    sku_index = {s["name"].lower(): s for s in skus if s.get("resourceType") == "virtualMachines" and s.get("name")}
    counters = {
        normalize_family(u["name"]["value"]): Counter(u["name"]["value"], int(u["currentValue"]), int(u["limit"]))
        for u in call(capacity.usages, region)
    }
    regional = counters.get("cores")
    # Existing pools count only in the region they run in: the stack's own. So do Karpenter's VMs: a running stack's
    # model nodes are already counted in the usages, so a second `pulumi up` needs no more room.
    here = region == settings.location
    karpenter = (karpenter_vms or []) if here else []
    held_by_family, held_total = _held_vcpus(
        [*(_pool_machines(existing) if here else []), *_karpenter_machines(karpenter, spot=False)], sku_index)
    _, held_spot = _held_vcpus(_karpenter_machines(karpenter, spot=True), sku_index)
    planned_by_family, planned_total = _held_vcpus(planned, sku_index)
    system_vcpus_each, system_family = _size_facts(settings.config.system_node_vm_size, sku_index)
    system_vcpus = system_vcpus_each * settings.config.system_node_count

    encryption = settings.config.encryption_at_host
    spot = settings.config.capacity_type == "spot"
    system_pool_problem = None
    if encryption and _capability(sku_index.get(settings.config.system_node_vm_size.lower(), {}),
                                  ENCRYPTION_AT_HOST_CAPABILITY) == "False":
        system_pool_problem = (
            f"preflight: {settings.config.system_node_vm_size} (kaito-aks:systemNodeVmSize) does not support "
            f"encryption at host in {region}; choose a size that does (`az vm list-skus -l {region} --size "
            f"Standard_D --query \"[?capabilities[?name=='{ENCRYPTION_AT_HOST_CAPABILITY}' && "
            f"value=='True']].name\"`), or `pulumi config set kaito-aks:encryptionAtHost false`. Nothing was created."
        )
    checks = []
    for size in candidates:
        vcpus_each, family = _size_facts(size, sku_index)
        # Room for the most copies of the model the stack may run (maxReplicas), each on its own nodes.
        nodes = settings.nodes_on(VM_SIZES[size], served) * served.max_replicas
        check = SizeCheck(size=size, region=region, vcpus_needed=vcpus_each * nodes, family=family, nodes=nodes)
        sku = sku_index.get(size.lower())
        if sku is None:
            check.offered, check.offer_note = False, f"not offered in {region}"
            check.problems.append(f"not offered in {region}")
        elif (restricted := _restriction(sku, region)) is not None:
            check.offered, check.offer_note = False, restricted
            check.problems.append(f"{restricted} in {region}")
        elif encryption and settings.uses_karpenter and _capability(sku, ENCRYPTION_AT_HOST_CAPABILITY) == "False":
            # Karpenter's node classes ask for encryption at host (the add-on's pools do not).
            check.problems.append("no encryption at host (kaito-aks:encryptionAtHost) on this size")
        elif spot and _capability(sku, SPOT_CAPABILITY) == "False":
            check.problems.append("not sold as spot in this region (LowPriorityCapable False)")
        if check.offered:
            if spot:
                # Spot VMs draw on one regional Spot vCPU quota for every family (usages: lowPriorityCores), not on
                # the family's or the regional standard counter; Azure Karpenter stops buying spot for an hour when
                # it is full (Azure/karpenter-provider-azure@v1.12.0:pkg/providers/instance/offerings/
                # commonerrorhandlers.go, "regional vCPU quota for spot (LowPriorityQuota)").
                check.family = SPOT_QUOTA
                key = normalize_family(SPOT_QUOTA)
                check.family_extra = max(0, check.vcpus_needed + planned_total - held_spot)
            else:
                key = normalize_family(family)
                wanted = (check.vcpus_needed + planned_by_family.get(key, 0)
                          + (system_vcpus if key == normalize_family(system_family) else 0))
                check.family_extra = max(0, wanted - held_by_family.get(key, 0))
            check.family_counter = counters.get(key)
            if check.family_counter is None:
                check.problems.append(f"no quota counter for {check.family} in {region} (quota 0)")
            elif not check.family_counter.room_for(check.family_extra):
                check.problems.append(
                    f"{check.family} quota {check.family_counter.describe()} vCPUs has no room for "
                    f"{check.family_extra} more"
                )
            check.regional_extra = max(0, (0 if spot else check.vcpus_needed + planned_total) + system_vcpus
                                       - held_total)
            check.regional_counter = regional
            if regional is not None and not regional.room_for(check.regional_extra):
                check.problems.append(
                    f"regional vCPU quota (cores) {regional.describe()} has no room for {check.regional_extra} more"
                )
        checks.append(check)
    return RegionReport(region, checks, system_pool_problem)


def run_preflight(settings: Settings, capacity: AzureCapacity, subscription_id: str,
                  sleep: Callable[[float], None] = time.sleep) -> PreflightReport:
    call = _retrying(sleep)
    existing = call(capacity.existing_pools, settings.resource_group_name, settings.cluster_name)
    karpenter_vms = (call(capacity.karpenter_vms, settings.resource_group_name, settings.cluster_name)
                     if settings.uses_karpenter else [])
    blocking = network_mismatch(settings, existing)
    if blocking is None and settings.config.encryption_at_host:
        blocking = encryption_at_host_unregistered(call(capacity.feature, *ENCRYPTION_AT_HOST_FEATURE), subscription_id)
    reports: list[PreflightReport] = []
    planned: list[tuple[str, int]] = []
    # Model by model, in order: each is checked with the nodes of those before it counted as planned.
    for served in settings.models:
        candidates = served.candidate_instance_types
        home = check_region(settings, capacity, settings.location, candidates, existing, call, karpenter_vms, served,
                            planned)
        blocking = blocking or home.system_pool_problem
        elsewhere = []
        if home.chosen is None:
            elsewhere = [
                check_region(settings, capacity, region, candidates, [], call, None, served, planned)
                for region in settings.config.preflight_regions if region != settings.location
            ]
        reports.append(PreflightReport(settings, home, elsewhere, subscription_id, blocking, served))
        if home.chosen is None:
            break
        planned.append((home.chosen.size, home.chosen.nodes))
    first, *additional = reports
    first.additional = additional
    first.blocking = blocking
    return first


def encryption_at_host_unregistered(feature: dict, subscription_id: str) -> str | None:
    """Why AKS would refuse encryption at host in this subscription (None: it will not)."""
    state = str((feature.get("properties") or {}).get("state") or "NotRegistered")
    if state.lower() == "registered":
        return None
    return (
        f"preflight: kaito-aks:encryptionAtHost is true but the feature Microsoft.Compute/EncryptionAtHost is "
        f"{state} in subscription {subscription_id}, and AKS refuses such node pools. Register it (once per "
        f"subscription; it takes a few minutes): `az feature register --namespace Microsoft.Compute --name "
        f"EncryptionAtHost`, wait until `az feature show --namespace Microsoft.Compute --name EncryptionAtHost "
        f"--query properties.state` says Registered, then `az provider register --namespace Microsoft.Compute`. "
        f"Or `pulumi config set kaito-aks:encryptionAtHost false`. Nothing was created."
    )


def network_mismatch(settings: Settings, existing_pools: list[dict]) -> str | None:
    """Why an existing cluster's node network cannot serve these settings (None: it can, or no cluster yet).

    Karpenter needs the nodes in a subnet of the stack's own VNet, made when the cluster is created;
    AKS cannot move a pool to another subnet, so switching either way on a running cluster is refused."""
    if not existing_pools:
        return None
    pools = [pool.get("properties", pool) for pool in existing_pools]
    system = next((pool for pool in pools if pool.get("mode") == "System"), pools[0])
    subnet = system.get("vnetSubnetID") or ""
    own_subnet = f"/virtualnetworks/vnet-{settings.cluster_name}/".lower() in subnet.lower()
    key = f"{settings.project}:"
    if settings.uses_karpenter and not own_subnet:
        return (
            f"preflight: cluster {settings.cluster_name} was created without a subnet of its own, which Karpenter "
            f"needs ({key}nodeProvisioner karpenter), and AKS cannot move its nodes. Keep KAITO's older provisioner "
            f"with `pulumi config set {key}nodeProvisioner gpu-provisioner`, or destroy the stack and deploy it "
            f"again (docs/UPGRADING.md). Nothing was changed."
        )
    if own_subnet and not settings.uses_karpenter:
        return (
            f"preflight: cluster {settings.cluster_name} runs its nodes in the stack's own subnet, made for Karpenter; "
            f"these settings would remove that subnet from under them. Keep `{key}kaitoInstall upstream` and "
            f"`{key}nodeProvisioner karpenter`, or destroy the stack and deploy it again. Nothing was changed."
        )
    return None


def _retrying(sleep: Callable[[float], None], attempts: int = 4, first_pause: float = 2.0) -> Callable:
    """Call an Azure API, retrying throttling and transient failures with exponential backoff."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ServiceRequestError,
        ServiceResponseError,
    )

    def call(function: Callable, *args: Any) -> Any:
        for attempt in range(1, attempts + 1):
            try:
                return function(*args)
            except ClientAuthenticationError as error:
                raise PreflightError(no_credentials_message(error)) from None
            except (ServiceRequestError, ServiceResponseError, HttpResponseError) as error:
                status = getattr(error, "status_code", None)
                transient = not isinstance(error, HttpResponseError) or status in RETRIABLE_STATUS
                if transient and attempt < attempts:
                    sleep(first_pause * 2 ** (attempt - 1))
                    continue
                tries = f" after {attempt} attempts" if transient else ""
                raise PreflightError(
                    f"preflight could not ask Azure{tries}: {error.__class__.__name__}"
                    f"{f' {status}' if status else ''}: {str(error).splitlines()[0][:300]}. The check did not pass; "
                    f"fix the cause, or skip it with {TURN_OFF} (then quota problems show up as a Workspace "
                    f"stuck at ResourceReady: False)"
                ) from None
        raise AssertionError("unreachable")

    return call


def no_credentials_message(error: Exception) -> str:
    return (
        "preflight found no Azure credentials: run `az login` (or set AZURE_CLIENT_ID/AZURE_TENANT_ID with a "
        f"federated token in CI), or skip the check with {TURN_OFF}. ({str(error).splitlines()[0][:200]})"
    )


# --- Azure, for real ---------------------------------------------------------------------------


class AzureSdkCapacity:
    """AzureCapacity through the Azure SDK for Python with DefaultAzureCredential."""

    def __init__(self, subscription_id: str, credential: Any = None) -> None:
        from azure.mgmt.compute import ComputeManagementClient
        from azure.mgmt.containerservice import ContainerServiceClient

        credential = credential or azure_api.credential()
        self.subscription_id = subscription_id
        self.compute = ComputeManagementClient(credential, subscription_id)
        self.containers = ContainerServiceClient(credential, subscription_id)

    def resource_skus(self, region: str) -> list[dict]:
        return [sku.as_dict() for sku in self.compute.resource_skus.list(filter=f"location eq '{region}'")]

    def usages(self, region: str) -> list[dict]:
        return [usage.as_dict() for usage in self.compute.usage.list(region)]

    def existing_pools(self, resource_group: str, cluster: str) -> list[dict]:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return [pool.as_dict() for pool in self.containers.agent_pools.list(resource_group, cluster)]
        except ResourceNotFoundError:
            return []  # a first deployment: nothing exists yet

    def karpenter_vms(self, resource_group: str, cluster: str) -> list[dict]:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            node_resource_group = self.containers.managed_clusters.get(resource_group, cluster).node_resource_group
        except ResourceNotFoundError:
            return []
        return [vm.as_dict() for vm in self.compute.virtual_machines.list(node_resource_group)
                if (vm.tags or {}).get(KARPENTER_CLUSTER_TAG) == cluster]

    def feature(self, namespace: str, name: str) -> dict:
        from azure.core.exceptions import HttpResponseError
        from azure.core.rest import HttpRequest

        url = (f"/subscriptions/{self.subscription_id}/providers/Microsoft.Features/providers/{namespace}"
               f"/features/{name}?api-version=2021-07-01")
        response = self.containers.send_request(HttpRequest("GET", f"https://management.azure.com{url}"))
        if response.status_code >= 400:
            raise HttpResponseError(response=response)
        return response.json()


def find_subscription(settings: Settings, env: dict | None = None, run: Callable = subprocess.run) -> str:
    """azure-native:subscriptionId, else ARM_SUBSCRIPTION_ID/AZURE_SUBSCRIPTION_ID, else the az CLI's."""
    try:
        return azure_api.find_subscription(settings.config.subscription_id, env, run)
    except azure_api.NoSubscription as error:
        raise PreflightError(f"preflight found {error}; or skip the check with {TURN_OFF}") from None


def make_capacity(subscription_id: str) -> AzureCapacity:
    try:
        return AzureSdkCapacity(subscription_id)
    except ImportError as error:  # pragma: no cover - requirements.txt installs them
        raise PreflightError(f"preflight needs the Azure SDK ({error}); run pip install -r requirements.txt") from None


def apply_preflight(settings: Settings, log: Callable[[str], None] = print) -> Settings:
    """The in-program step: the settings with the size preflight picked, or a PreflightError."""
    # A paused stack asks Azure for no new VM (the cluster and its system pool exist already).
    if not settings.config.preflight or settings.config.paused:
        return settings
    subscription = find_subscription(settings)
    report = run_preflight(settings, make_capacity(subscription), subscription)
    if report.blocking is not None:
        raise PreflightError(report.blocking)
    failed = report.first_failure
    if failed is not None:
        raise PreflightError(failed.failure_message())
    chosen = {}
    for checked in report.every_model:
        for line in checked.explanation():
            log(line)
        chosen[checked.model.workspace_name] = checked.chosen
    return settings.with_instance_types(chosen)
