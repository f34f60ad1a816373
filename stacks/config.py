"""Every setting a stack can have, declared once: key, kind (type and validation), default, meaning.

`StackConfig` is the declaration. Each field is one setting; its metadata holds the key, how its
text is validated and what it means. From these declarations come Pulumi.yaml's `config:` block and
the README's configuration table (`./scripts/generate`; a test fails when either has drifted), and
stacks/settings reads and validates every key through them. Rules that tie settings together (a
model on a VM size, a budget needs a contact) live in stacks/settings, after every key is read.

To add a setting: add a field here, use it in stacks/settings or stacks/compose, run
`./scripts/generate`, and test it (CONTRIBUTING.md).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from stacks.catalog import VM_SIZES
from stacks.config_kinds import (
    Boolean,
    Choice,
    Date,
    Integer,
    Kind,
    ModelEntry,
    Models,
    Secret,
    SecretText,
    Tags,
    TeamLimits,
    Teams,
    Text,
    TextList,
    cidr_check,
    cidr_problem,
    closest_hint,
    email_problem,
    object_id_problem,
)
from stacks.regions import region_problem

PROJECT = "kaito-aks"
AZURE = "azure-native"
DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
DNS1123_MEANING = (
    "a DNS-1123 label (lower-case letters, digits and '-', starting and ending with a letter or digit, "
    "at most 63 characters)"
)
RESERVED_NAMESPACES = {"default", "kube-system", "kube-public", "kube-node-lease"}
SYSTEM_POOL_SIZES = sorted(name for name, size in VM_SIZES.items() if not size.has_gpu)


@dataclass(frozen=True)
class Setting:
    """One config key: where it lives, how its text is read, what it means."""

    key: str
    kind: Kind
    description: str
    namespace: str = PROJECT
    required: bool = False
    shown_default: str | None = None
    """The README's default column when the literal default would mislead ("the profile's")."""

    @property
    def full_key(self) -> str:
        return f"{self.namespace}:{self.key}"


def setting(key: str, kind: Kind, default: Any, description: str, **options: Any) -> Any:
    """A StackConfig field declaring one setting."""
    declared = Setting(key, kind, description, **options)
    if isinstance(default, (dict, list)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata={"setting": declared})
    return dataclasses.field(default=default, metadata={"setting": declared})


def _namespace_problem(text: str) -> tuple[str, str] | None:
    if text in RESERVED_NAMESPACES or text.startswith("kube-"):
        return (
            "belongs to the cluster itself, and the stack creates (and on destroy deletes) its namespace",
            "use a namespace of its own, e.g. 'kaito'",
        )
    return None


def _system_pool_size_problem(text: str) -> tuple[str, str] | None:
    size = VM_SIZES.get(text)
    if size is not None and size.has_gpu:
        return (
            "is a GPU size; the system pool only runs cluster services and the demo app (KAITO adds GPU nodes itself)",
            f"use e.g. {SYSTEM_POOL_SIZES[0]}",
        )
    if size is None:
        return (
            "is not a VM size kaito-aks knows (its quota and price come from stacks/data/vm-sizes.csv)"
            + closest_hint(text, SYSTEM_POOL_SIZES),
            f"use one of {', '.join(SYSTEM_POOL_SIZES)}, or add the size's row to stacks/data/vm-sizes.csv",
        )
    return None


def _region_problem(text: str) -> tuple[str, str] | None:
    return region_problem(text)


# The kinds of the stack's model settings; an additional model's keys (kaito-aks:additionalModels) are read by the
# same ones.
MODEL_SIZE = Choice({"cpu": "no GPU", "small": "one A10", "medium": "one A100", "large": "several A100s"},
                    what="a model size")
MODEL = Text()
INSTANCE_TYPE = Text(pattern=r"Standard_[A-Za-z0-9_]+", meaning="an Azure VM size name",
                     example="Standard_NC24ads_A100_v4")
NODE_COUNT = Integer(minimum=1)
REPLICAS = Integer(minimum=1, maximum=20)
# KAITO names a Workspace's Services after it, and `<name>-headless`: a Service name is a DNS-1035 label (a letter
# first); its pods are a StatefulSet's, labelled controller-revision-hash `<name>-<up to 10 characters>`, at most 63
# (kaito-project/kaito@v0.12.0:pkg/workspace/manifests/manifests.go; pkg/workspace/inference/preset_inferences.go).
MAX_WORKSPACE_NAME = 52
WORKSPACE_NAME = Text(
    pattern=rf"[a-z]([-a-z0-9]{{0,{MAX_WORKSPACE_NAME - 2}}}[a-z0-9])?",
    meaning=f"a DNS-1035 label of at most {MAX_WORKSPACE_NAME} characters (lower-case letters, digits and '-', "
            f"starting with a letter and ending with a letter or digit: KAITO names Services and a StatefulSet after "
            f"the Workspace)",
    example="ws-phi-4")


@dataclass(frozen=True)
class StackConfig:
    """The settings of one stack, as typed values (defaults applied). Built only by stacks/settings."""

    location: str = setting(
        "location", Text(check=_region_problem), None,
        "Azure region of the stack, e.g. eastus (`az account list-locations -o table`).",
        namespace=AZURE, required=True, shown_default="— (required)",
    )
    subscription_id: str | None = setting(
        "subscriptionId",
        Text(pattern=r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}", meaning="a subscription ID (a GUID)",
             example="00000000-0000-0000-0000-000000000000"),
        None,
        "Azure subscription to deploy to; unset means the Azure CLI's current one (`az account show`).",
        namespace=AZURE, shown_default="`az account show`",
    )
    model_size: str = setting(
        "modelSize", MODEL_SIZE, "cpu",
        "Model size profile (README, Model sizes): cpu (no GPU quota needed), small, medium or large.",
    )
    kaito_install: str = setting(
        "kaitoInstall",
        Choice({"addon": "the AKS AI toolchain operator add-on, KAITO 0.6.0",
                "upstream": "KAITO 0.12 installed from its Helm charts"}, what="an install mode"),
        "addon",
        "How KAITO gets into the cluster: addon (the AKS AI toolchain operator add-on, KAITO 0.6.0, managed "
        "by AKS) or upstream (KAITO 0.12 from its Helm charts; newer models). Choose before the first deploy.",
    )
    node_provisioner: str = setting(
        "nodeProvisioner",
        Choice({"karpenter": "self-hosted Azure Karpenter, what KAITO 0.12 recommends",
                "gpu-provisioner": "Azure's gpu-provisioner, deprecated by KAITO 0.12"},
               what="a node provisioner"),
        "karpenter",
        "kaitoInstall upstream only: what creates the GPU nodes. karpenter (self-hosted Azure Karpenter, the "
        "provisioner KAITO 0.12 recommends; the cluster gets a subnet of its own) or gpu-provisioner (deprecated by "
        "KAITO 0.12; for upstream stacks created before kaito-aks moved to Karpenter, see docs/UPGRADING.md).",
    )
    capacity_type: str = setting(
        "capacityType",
        Choice({"on-demand": "regular VMs at the list price",
                "spot": "Azure's spare capacity at a discount, evicted when Azure needs it back"},
               what="a capacity type"),
        "on-demand",
        "How the model's nodes are bought: on-demand, or spot (kaitoInstall upstream with nodeProvisioner karpenter "
        "only; cheaper, but Azure can evict the node at any time and the model is down until a new one is ready; "
        "needs Spot vCPU quota). Changing it replaces the model deployment.",
    )
    model: str | None = setting(
        "model", MODEL, None,
        "Another model than the profile's: a KAITO preset (addon), a Hugging Face id (upstream) or a CPU model.",
        shown_default="the profile's",
    )
    instance_type: str | None = setting(
        "instanceType", INSTANCE_TYPE, None,
        "VM size KAITO provisions for the model. Unset: the profile's first size that fits (and, with preflight, "
        "has quota).",
        shown_default="the profile's first that fits",
    )
    node_count: int = setting(
        "nodeCount", NODE_COUNT, 1,
        "Number of model nodes (KAITO sums GPUs and GPU memory across them). Every profile's model fits on one.",
    )
    min_replicas: int = setting(
        "minReplicas", REPLICAS, 1,
        "kaitoInstall upstream, GPU models: the fewest copies of the model that serve (each on its own nodes).",
    )
    max_replicas: int = setting(
        "maxReplicas", REPLICAS, 1,
        "kaitoInstall upstream, GPU models: the most copies of the model; above minReplicas, KEDA adds copies while "
        "requests queue (an InferenceSet scaled by keda-kaito-scaler). Preflight and the estimate count the most.",
    )
    namespace: str = setting(
        "namespace",
        Text(pattern=DNS1123_LABEL, meaning=DNS1123_MEANING, example="kaito", check=_namespace_problem),
        "kaito",
        "Kubernetes namespace for the Workspace and its clients (created by the stack).",
    )
    workspace_name: str | None = setting(
        "workspaceName", WORKSPACE_NAME, None,
        "Name of the KAITO Workspace and of the Service KAITO creates for it.",
        shown_default="ws-<model>",
    )
    additional_models: Mapping[str, ModelEntry] = setting(
        "additionalModels",
        Models(fields={"model": ("model", MODEL), "modelSize": ("model_size", MODEL_SIZE),
                       "instanceType": ("instance_type", INSTANCE_TYPE), "nodeCount": ("node_count", NODE_COUNT),
                       "minReplicas": ("min_replicas", REPLICAS), "maxReplicas": ("max_replicas", REPLICAS)},
               name=WORKSPACE_NAME),
        {},
        "More models served beside the stack's own, each by its Workspace name: `pulumi config set --path "
        "'kaito-aks:additionalModels.ws-second.model' <model>`, and optionally its own modelSize, instanceType, "
        "nodeCount, minReplicas and maxReplicas (unset: the stack's modelSize, its first size that fits, one node, one "
        "copy). Each gets its Workspace, Service, policy, smoke test, cost line and endpoint (the additionalModels "
        "output); the stack's other settings apply to all (README, Several models).",
        shown_default="—",
    )
    kubernetes_version: str | None = setting(
        "kubernetesVersion",
        Text(pattern=r"\d+\.\d+(\.\d+)?", meaning="a version AKS accepts (<major>.<minor>[.<patch>], "
             "`az aks get-versions -l <region>` lists them)", example="1.33"),
        None,
        "AKS Kubernetes version, e.g. 1.33. Unset: the AKS default.",
        shown_default="AKS default",
    )
    system_node_vm_size: str = setting(
        "systemNodeVmSize", Text(check=_system_pool_size_problem), "Standard_D4s_v5",
        "VM size of the system node pool (cluster services, the demo app). Applied when the cluster is created.",
    )
    system_node_count: int = setting(
        "systemNodeCount", Integer(minimum=1, maximum=100), 1,
        "Number of system pool nodes (1-100). Applied when the cluster is created; later, `az aks nodepool scale`.",
    )
    cluster_admin_groups: tuple[str, ...] = setting(
        "clusterAdminGroups",
        TextList(item=object_id_problem, items_are="Entra ID group object IDs",
                 example="00000000-0000-0000-0000-000000000000"),
        (),
        "Entra ID groups (object IDs) that administer the cluster: Azure Kubernetes Service RBAC Cluster Admin "
        "on it, and the right to fetch its kubeconfig. The identity running `pulumi up` gets the same by itself.",
    )
    cluster_reader_groups: tuple[str, ...] = setting(
        "clusterReaderGroups",
        TextList(item=object_id_problem, items_are="Entra ID group object IDs",
                 example="00000000-0000-0000-0000-000000000000"),
        (),
        "Entra ID groups (object IDs) with read-only access: Azure Kubernetes Service RBAC Reader (most objects, "
        "not Secrets) on the cluster, and the right to fetch its kubeconfig.",
    )
    api_server_authorized_ip_ranges: tuple[str, ...] = setting(
        "apiServerAuthorizedIpRanges",
        TextList(item=cidr_check("the API server"), items_are="CIDRs", example="203.0.113.0/24"),
        (),
        "CIDRs allowed to reach the cluster's API server, e.g. [203.0.113.0/24]; empty: any address (Entra ID "
        "sign-in is still required). GitHub-hosted runners have no fixed addresses: list them, or deploy that "
        "stack from a runner that has one (README, Security).",
    )
    sku_tier: str = setting(
        "skuTier",
        Choice({"Free": "no SLA, for dev and test",
                "Standard": "a financially backed API server SLA, for production, $0.10 per cluster-hour"},
               what="an AKS pricing tier kaito-aks offers"),
        "Free",
        "AKS pricing tier: Free (no SLA) or Standard (API server uptime SLA, for production; in the cost estimate). "
        "Changeable on a running cluster. (Premium also needs a long-term-support plan; kaito-aks does not set one.)",
    )
    upgrade_channel: str = setting(
        "upgradeChannel",
        Choice({"patch": "the newest patch of the current minor version", "stable": "the newest patch of the "
                "minor version before the newest", "rapid": "the newest supported version",
                "node-image": "node images only", "none": "no automatic upgrades"},
               what="an AKS upgrade channel"),
        "patch",
        "AKS automatic Kubernetes upgrades, inside the maintenance window: patch, stable, rapid, node-image or none.",
    )
    node_os_upgrade_channel: str = setting(
        "nodeOsUpgradeChannel",
        Choice({"NodeImage": "a new node image weekly", "SecurityPatch": "security patches only",
                "Unmanaged": "the OS's own unattended upgrades", "None": "no node OS updates"},
               what="an AKS node OS upgrade channel"),
        "NodeImage",
        "How the nodes' OS gets security updates, inside the maintenance window: NodeImage, SecurityPatch, "
        "Unmanaged or None.",
    )
    maintenance_day: str = setting(
        "maintenanceDay",
        Choice({day: "" for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")},
               what="a day of the week"),
        "Sunday",
        "Day of the weekly four-hour window in which AKS applies automatic upgrades.",
    )
    maintenance_start_time: str = setting(
        "maintenanceStartTime",
        Text(pattern=r"([01][0-9]|2[0-3]):[0-5][0-9]", meaning="a time of day in 24-hour HH:mm", example="02:00"),
        "00:00",
        "Start of that window, HH:mm in UTC.",
    )
    encryption_at_host: bool = setting(
        "encryptionAtHost", Boolean(), False,
        "Encrypt the nodes' temp disks and disk caches on the host (the system pool, and with Karpenter the model "
        "nodes). Needs the subscription feature Microsoft.Compute/EncryptionAtHost; preflight checks it. System "
        "pool: applied when the cluster is created.",
    )
    hf_token: SecretText | None = setting(
        "hfToken", Secret(), None,
        "Hugging Face read token, for models whose weights download at run time (add-on: llama-*, "
        "deepseek-r1-0528, deepseek-v3-0324) or that are gated (upstream: Llama, Gemma). Set it with "
        "`pulumi config set --secret kaito-aks:hfToken <token>`.",
        shown_default="—",
    )
    model_weights: str = setting(
        "modelWeights",
        Choice({"huggingface": "each model pod downloads them from Hugging Face at start",
                "blob": "mirrored once into an Azure Blob container of the stack's and streamed from it"},
               what="a source of model weights"),
        "huggingface",
        "Where GPU models' weights come from: huggingface (each model pod downloads them at start) or blob "
        "(kaitoInstall upstream: KAITO 0.12 mirrors each model once into a Blob container of the stack's, and its "
        "pods stream from it, signed in with workload identity, the reader role on that container only; README, "
        "Private and your own models).",
    )
    weights_storage_account_id: str | None = setting(
        "weightsStorageAccountId",
        Text(pattern=r"/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[-\w.()]{1,90}/providers/"
                     r"Microsoft\.Storage/storageAccounts/[a-z0-9]{3,24}",
             meaning="a storage account's resource ID (`az storage account show -n <name> --query id -o tsv`)",
             example="/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-models/providers/"
                     "Microsoft.Storage/storageAccounts/contosomodels"),
        None,
        "With modelWeights blob: an existing storage account (its resource ID) for the container `models`, in the "
        "stack's subscription; unset: the stack creates one that takes Entra ID sign-in only (no account keys).",
        shown_default="the stack's own",
    )
    tags: Mapping[str, str] = setting(
        "tags", Tags(), {},
        "Map of Azure tag names to values, merged into every Azure resource's tags under the standard ones: "
        "`pulumi config set --path 'kaito-aks:tags.owner' platform-team`.",
        shown_default="—",
    )
    demo_app: bool = setting("demoApp", Boolean(), True, "Deploy the demo chat app next to the model.")
    exposure: str = setting(
        "exposure",
        Choice({"private": "nothing public: reach the app with kubectl port-forward",
                "public": "the front door: HTTPS, Entra ID sign-in for the chat page, API keys for programs"},
               what="an exposure"),
        "private",
        "How the model and the demo app are reached: private (no public address; the demoAppPortForward output is "
        "the kubectl command) or public (the front door: HTTPS with Let's Encrypt, the chat page behind Entra ID "
        "sign-in, the OpenAI-compatible API for the teams in apiTeams; README, Front door).",
    )
    hostname: str | None = setting(
        "hostname",
        Text(pattern=r"(?=.{4,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}",
             meaning="a fully qualified DNS name in lower case", example="models.contoso.com"),
        None,
        "Public hostname of the front door, in a DNS zone you control (a CNAME to the frontDoorAzureHostname output). "
        "Unset: <label>.<region>.cloudapp.azure.com, unique per stack.",
        shown_default="an Azure name",
    )
    tls_issuer: str = setting(
        "tlsIssuer",
        Choice({"letsencrypt-staging": "untrusted test certificates, generous limits",
                "letsencrypt": "trusted certificates"}, what="a certificate issuer"),
        "letsencrypt-staging",
        "Where the front door's certificate comes from: letsencrypt-staging (for trying it out; browsers warn) or "
        "letsencrypt (trusted; prod).",
    )
    acme_email: str | None = setting(
        "acmeEmail", Text(check=lambda text: None if email_problem(text) is None else (
            "is not an e-mail address", "use e.g. 'platform@contoso.com'")), None,
        "Address Let's Encrypt writes to about the certificate. Required with exposure public.",
        shown_default="—",
    )
    sign_in_client_id: str | None = setting(
        "signInClientId",
        Text(pattern=r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}", meaning="an application (client) ID",
             example="11111111-2222-3333-4444-555555555555"),
        None,
        "Entra ID app registration the chat page signs people in with (README, Front door, says how to create it). "
        "Required with exposure public and the demo app.",
        shown_default="—",
    )
    sign_in_client_secret: SecretText | None = setting(
        "signInClientSecret", Secret(), None,
        "That app registration's client secret: `pulumi config set --secret kaito-aks:signInClientSecret <secret>`.",
        shown_default="—",
    )
    api_teams: Mapping[str, TeamLimits] = setting(
        "apiTeams", Teams(reserved=("demo-app", "smoke-test")), {},
        "Teams that may call the model's API through the front door, each with its own key (the apiKeys secret "
        "output) and limits: `pulumi config set --path 'kaito-aks:apiTeams.app-team.requestsPerMinute' 60`, "
        "`...tokensPerMinute' 100000`; raise its keyVersion to rotate the key.",
        shown_default="—",
    )
    allowed_source_ranges: tuple[str, ...] = setting(
        "allowedSourceRanges",
        TextList(item=cidr_problem, items_are="CIDRs", example="203.0.113.7/32"),
        (),
        "CIDRs allowed to reach the front door at all, e.g. [203.0.113.0/24], a layer in front of sign-in and API "
        "keys. Required when exposure is public; 0.0.0.0/0 is refused.",
    )
    restrict_model_access: bool = setting(
        "restrictModelAccess", Boolean(), True,
        "A NetworkPolicy lets only the demo app and the smoke test reach the model's pods. Turn off to let other "
        "in-cluster clients call the model.",
    )
    metrics: bool = setting(
        "metrics", Boolean(), True,
        "Azure Monitor managed Prometheus: the model server's own metrics (tokens, latency, queue, errors) and, with "
        "the front door, each team's token usage, kept in an Azure Monitor workspace. Alerts and Grafana need it.",
    )
    alerts: bool = setting(
        "alerts", Boolean(), True,
        "Prometheus alert rules (model not serving, errors, slow first token, KV cache or GPU memory full) mailed "
        "to budgetContactEmails when set (README, Monitoring, says what each means). Needs metrics.",
    )
    alert_ttft_p95_seconds: int = setting(
        "alertTtftP95Seconds", Integer(minimum=1, maximum=600), 10,
        "The 95th percentile of time to first token, in seconds, above which the slow-answers alert fires.",
    )
    grafana: bool = setting(
        "grafana", Boolean(), False,
        "Azure Managed Grafana (Standard) with kaito-aks's dashboard, linked to the metrics; its URL is the "
        "grafanaDashboardUrl output. Needs metrics. Off by default: an instance is billed by the hour.",
    )
    measure_streams: int = setting(
        "measureStreams", Integer(minimum=0, maximum=16), 4,
        "After the smoke test's question, this many concurrent streamed answers of at most 128 tokens each measure "
        "tokens per second and time to first token (the smokeTestMeasurement output, with $ per million output "
        "tokens at the estimated $/h). 0: no measurement.",
    )
    container_logs: bool = setting(
        "containerLogs", Boolean(), True,
        "Container Insights: the cluster's container logs and Kubernetes events in a Log Analytics workspace, so a "
        "stuck Workspace's events and the model's logs can be read afterwards.",
    )
    log_retention_days: int = setting(
        "logRetentionDays", Integer(minimum=30, maximum=730), 30,
        "Days Log Analytics keeps the logs (30-730).",
    )
    log_daily_cap_gb: int = setting(
        "logDailyCapGb", Integer(minimum=1, maximum=1000), 1,
        "Most gigabytes of logs ingested a day; more is dropped until the next day (and the cost estimate counts "
        "this cap as used every day).",
    )
    preflight: bool = setting(
        "preflight", Boolean(), True,
        "Before creating anything, check with Azure that the VM size is offered in the region and that vCPU quota "
        "has room (needs Azure credentials: az login). Set false to skip.",
    )
    preflight_regions: tuple[str, ...] = setting(
        "preflightRegions",
        TextList(item=lambda text: None if region_problem(text) is None else region_problem(text)[0],  # type: ignore[index]
                 items_are="Azure region names", example="westeurope"),
        (),
        "Other regions preflight checks and suggests when nothing fits in azure-native:location, e.g. "
        "[westeurope, swedencentral].",
    )
    paused: bool = setting(
        "paused", Boolean(), False,
        "Park the stack: remove the Workspace (and KAITO's GPU pool) and scale the demo app to zero, keep the "
        "cluster. Set false to resume.",
    )
    environment: str | None = setting(
        "environment", Text(pattern=r".{1,256}", meaning="an Azure tag value (at most 256 characters)", example="dev"),
        None, "Environment name for the `environment` tag.", shown_default="the stack name",
    )
    owner: str | None = setting(
        "owner", Text(pattern=r".{1,256}", meaning="an Azure tag value (at most 256 characters)",
                      example="platform-team"),
        None, "Team or person responsible, for the `owner` tag (cost reports).", shown_default="—",
    )
    expires_on: str | None = setting(
        "expiresOn", Date(), None,
        "Date (YYYY-MM-DD) after which the stack should not exist: the `expiry` tag, and the nightly teardown "
        "destroys it.",
        shown_default="—",
    )
    auto_teardown: str = setting(
        "autoTeardown",
        Choice({"none": "", "pause": "the nightly workflow parks the stack: no GPU",
                "destroy": "it deletes the stack's resources"}, what="a teardown policy"),
        "none",
        "What the nightly teardown workflow does to this stack: none, pause (no GPU until resumed) or destroy.",
    )
    budget_monthly_usd: int = setting(
        "budgetMonthlyUsd", Integer(minimum=0), 0,
        "Monthly Azure Consumption Budget on the resource group, alerting at 50/80/100 %. 0: no budget.",
    )
    budget_contact_emails: tuple[str, ...] = setting(
        "budgetContactEmails",
        TextList(item=email_problem, items_are="e-mail addresses", example="platform@contoso.com"),
        (),
        "Who the budget alerts e-mail. Required with a budget.",
    )
    budget_start_date: str | None = setting(
        "budgetStartDate", Date(first_of_month=True), None,
        "First day of the budget's first month (YYYY-MM-01). Unset: the month the budget is created in, kept "
        "thereafter.",
        shown_default="this month",
    )


def declarations() -> Iterator[tuple[str, Setting]]:
    """(field name, Setting) for every setting, in declaration order."""
    for declared in dataclasses.fields(StackConfig):
        yield declared.name, declared.metadata["setting"]


def declared(full_key: str) -> Setting | None:
    return next((item for _, item in declarations() if item.full_key == full_key), None)


def project_keys() -> list[str]:
    return [item.key for _, item in declarations() if item.namespace == PROJECT]


def default_of(field_name: str) -> Any:
    for declared_field in dataclasses.fields(StackConfig):
        if declared_field.name == field_name:
            if declared_field.default is not dataclasses.MISSING:
                return declared_field.default
            return declared_field.default_factory()  # type: ignore[misc]
    raise KeyError(field_name)


def azure_safe(text: str) -> str:
    """A stack name as part of an Azure resource name."""
    return re.sub(r"[^A-Za-z0-9-]", "-", text).strip("-").lower()
