"""Wire the components together for one stack and return what the stack exports."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pulumi
from pulumi_azure_native import authorization

from components.budget import CostBudget, CostBudgetArgs
from components.cluster import AksCluster, AksClusterArgs, ClusterAccess, ClusterMonitoringOptions, ClusterOperations
from components.cluster_monitoring import (
    SCRAPER,
    AlertSettings,
    ClusterMonitoring,
    ClusterMonitoringArgs,
    MonitoredModel,
)
from components.demo_app import DemoApp, DemoAppArgs
from components.front_door import FrontDoor, FrontDoorArgs, RoutedModel, SignIn, TeamAccess, self_proxy_peer
from components.gateway_platform import GATEWAY_NAMESPACE, GatewayPlatform, GatewayPlatformArgs
from components.gpu_metrics import GPU_METRICS_NAMESPACE, GpuMetricsExporter, GpuMetricsExporterArgs
from components.gpu_pool_cleanup import GpuPoolCleanupTarget, cleanup_hook
from components.identity import subscription_of
from components.inference_autoscaler import InferenceAutoscaler, InferenceAutoscalerArgs, scaler_peer
from components.kaito_install import UpstreamKaito, UpstreamKaitoArgs
from components.karpenter import Karpenter, KarpenterArgs
from components.kubernetes import Destination, ModelConnection, in_cluster_model
from components.llama_cpp import LlamaCppServer, llama_cpp_pod_template
from components.model_weights import (
    DOWNLOAD_CPU,
    DOWNLOAD_MEMORY,
    STORAGE_CLASS,
    BlobModelWeights,
    BlobModelWeightsArgs,
    MirroredModel,
)
from components.serving_metrics import LLAMA_CPP
from components.smoke_test import SmokeTest, SmokeTestArgs
from components.workspace import (
    MODEL_PORT,
    STREAMING_SERVICE_ACCOUNT,
    KaitoWorkspace,
    KaitoWorkspaceArgs,
    ReplicaRange,
    inference_endpoint,
)
from stacks import images
from stacks.catalog import TEMPLATE_MODELS
from stacks.cost import estimate
from stacks.settings import ServedModel, Settings

DEMO_APP_DIR = Path(__file__).resolve().parent.parent / "demo_app"
# Pods carrying this label may reach the model when kaito-aks:restrictModelAccess is on.
MODEL_CLIENT_LABEL = {"kaito-aks/model-client": "true"}


def compose(settings: Settings) -> dict[str, Any]:
    """Build the stack described by `settings`; return its outputs, keyed by export name."""
    config = settings.config
    # Who runs `pulumi up`, in which tenant: cluster-admin for them, and the tenant the chat page's sign-in uses.
    client = authorization.get_client_config_output()
    cluster = AksCluster(
        "cluster",
        AksClusterArgs(
            resource_group_name=settings.resource_group_name,
            cluster_name=settings.cluster_name,
            location=settings.location,
            system_node_vm_size=config.system_node_vm_size,
            system_node_count=config.system_node_count,
            kubernetes_version=config.kubernetes_version,
            tags=settings.tags,
            ai_toolchain_operator=settings.mode.enables_aks_addon,
            blob_csi_driver=settings.blob_weights,
            storage_service_endpoint=settings.blob_weights and settings.uses_karpenter,
            own_subnet=settings.uses_karpenter,
            access=ClusterAccess(
                deployer_object_id=client.object_id,
                admin_group_ids=config.cluster_admin_groups,
                reader_group_ids=config.cluster_reader_groups,
                authorized_ip_ranges=config.api_server_authorized_ip_ranges,
            ),
            operations=ClusterOperations(
                sku_tier=config.sku_tier,
                upgrade_channel=config.upgrade_channel,
                node_os_upgrade_channel=config.node_os_upgrade_channel,
                maintenance_day=config.maintenance_day,
                maintenance_start_time=config.maintenance_start_time,
                encryption_at_host=config.encryption_at_host,
            ),
            monitoring=ClusterMonitoringOptions(
                metrics=config.metrics,
                logs=config.container_logs,
                log_retention_days=config.log_retention_days,
                log_daily_cap_gb=config.log_daily_cap_gb,
            ),
        ),
    )
    on_cluster = pulumi.ResourceOptions(providers=[cluster.provider])
    extra_outputs: dict[str, Any] = {}
    kaito_ready = on_cluster
    if settings.mode.installs_kaito:
        provisioner: list[pulumi.Resource] = []
        if settings.uses_karpenter:
            assert cluster.node_subnet_id is not None and cluster.node_vnet_guid is not None
            karpenter = Karpenter(
                "karpenter",
                KarpenterArgs(
                    cluster_name=settings.cluster_name,
                    location=settings.location,
                    subscription_id=cluster.cluster_id.apply(subscription_of),
                    resource_group_name=cluster.resource_group_name,
                    node_resource_group=cluster.node_resource_group,
                    oidc_issuer_url=cluster.oidc_issuer_url,
                    cluster_endpoint=cluster.endpoint,
                    node_subnet_id=cluster.node_subnet_id,
                    vnet_guid=cluster.node_vnet_guid,
                    kubelet_identity_resource_id=cluster.kubelet_identity_resource_id,
                    kubelet_identity_client_id=cluster.kubelet_identity_client_id,
                    network=cluster.network,
                    labels=kubernetes_labels(settings, component="node-provisioner", name="karpenter"),
                    tags=settings.tags,
                ),
                opts=on_cluster,
            )
            provisioner = [karpenter]
            extra_outputs["karpenterClientId"] = karpenter.identity.client_id
        kaito = UpstreamKaito(
            "kaito",
            UpstreamKaitoArgs(
                cluster_name=settings.cluster_name,
                resource_group_name=cluster.resource_group_name,
                location=settings.location,
                cluster_id=cluster.cluster_id,
                node_resource_group=cluster.node_resource_group,
                oidc_issuer_url=cluster.oidc_issuer_url,
                node_provisioner=config.node_provisioner,
                encryption_at_host=config.encryption_at_host,
                spot_nodes=config.capacity_type == "spot",
                model_streaming=(STORAGE_CLASS, STREAMING_SERVICE_ACCOUNT, DOWNLOAD_CPU, DOWNLOAD_MEMORY)
                if settings.blob_weights else None,
                tags=settings.tags,
            ),
            # KAITO's controller needs Karpenter's CRDs when it starts.
            opts=pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=provisioner)),
        )
        kaito_ready = pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=[kaito]))
        if kaito.identity is not None:
            extra_outputs["gpuProvisionerClientId"] = kaito.identity.client_id

    if settings.replicated:
        # Kept while paused: removing KEDA with its CRDs while objects it finalizes exist would hang the uninstall.
        # After KAITO: the scaler waits for the InferenceSet CRD before it reports healthy.
        autoscaler = InferenceAutoscaler(
            "autoscaling",
            InferenceAutoscalerArgs(labels=kubernetes_labels(settings, component="autoscaling", name="keda")),
            opts=kaito_ready,
        )
        # The InferenceSet after the scaler (its certificates exist before KEDA first calls it), and removed before
        # it (KEDA clears its ScaledObject's finalizer).
        kaito_ready = pulumi.ResourceOptions.merge(kaito_ready, pulumi.ResourceOptions(depends_on=[autoscaler]))

    weights = None
    if settings.blob_weights:
        weights = BlobModelWeights(
            "model-weights",
            BlobModelWeightsArgs(
                cluster_name=settings.cluster_name,
                resource_group_name=cluster.resource_group_name,
                location=settings.location,
                oidc_issuer_url=cluster.oidc_issuer_url,
                model_namespace=config.namespace,
                models=[MirroredModel(served.model, settings.mirror_size_gib(served))
                        for served in settings.models if served.is_preset],
                node_subnet_id=cluster.node_subnet_id,
                existing_account_id=config.weights_storage_account_id,
                hf_token=hf_token_secret(settings),
                labels=kubernetes_labels(settings, component="model-weights"),
                tags=settings.tags,
            ),
            opts=kaito_ready,
        )
        extra_outputs["modelWeightsContainerUrl"] = weights.container_url
    models = build_models(settings, kaito_ready, weights)
    workspace = models[0][1]
    connection = in_cluster_connection(workspace, config.namespace)
    clients_after: list[pulumi.Resource] = [workspace]
    exposure: dict[str, Any] = {}
    front_door = None
    if settings.public:
        front_door = build_front_door(settings, models, client.tenant_id, on_cluster)
        connection = front_door_connection(front_door, config.tls_issuer)
        clients_after.append(front_door)
        exposure.update({
            "demoAppUrl": front_door.url,
            "apiBaseUrl": front_door.api_base_url,
            "apiKeys": pulumi.Output.secret({team: key for team, key in front_door.api_keys.items()
                                             if team in config.api_teams}),
            "frontDoorAzureHostname": front_door.azure_hostname,
            "signInRedirectUrl": front_door.sign_in_redirect_url,
        })
    after_workspace = pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=clients_after))

    cost = estimate(settings)
    additional: dict[str, dict[str, Any]] = {}
    for index, (served, model_workspace) in enumerate(models):
        # Each model's own record among the outputs (the stack's own model's are the top-level outputs).
        record = additional.setdefault(served.workspace_name, {
            "model": served.model, "instanceType": served.instance_type,
            "inferenceEndpoint": model_workspace.inference_endpoint,
        }) if served.additional else exposure
        if config.paused:
            continue
        model_connection = connection if front_door is not None or index == 0 else in_cluster_connection(
            model_workspace, config.namespace)
        smoke_test = SmokeTest(
            "smoke-test" if index == 0 else f"smoke-test-{served.workspace_name}",
            SmokeTestArgs(
                namespace=workspace.namespace,
                connection=model_connection,
                model=served.model,
                source=read_sources("app.py", "smoke_test.py"),
                image=images.PYTHON_IMAGE,
                labels={**kubernetes_labels(settings, component="smoke-test", instance=served.workspace_name),
                        **MODEL_CLIENT_LABEL},
                # Through a front door the certificate may still be on its way: ask for up to ten minutes.
                attempts=30 if settings.public else 5,
                load_streams=config.measure_streams,
            ),
            opts=pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(
                depends_on=[model_workspace, *clients_after[1:]])),
        )
        if smoke_test.measurement is not None:
            # The stack's own model is priced at the whole stack's $/h; each additional one at its own nodes'.
            hourly = cost.hourly_usd if index == 0 else cost.model_usd_per_hour(served.workspace_name)
            record["smokeTestMeasurement"] = smoke_test.measurement.apply(
                lambda measured, hourly=hourly: with_cost_per_million_tokens(measured, hourly))

    if config.budget_monthly_usd:
        CostBudget(
            "cost-budget",
            CostBudgetArgs(
                scope=cluster.resource_group_id,
                budget_name=f"budget-{settings.resource_group_name}",
                amount_usd=config.budget_monthly_usd,
                contact_emails=config.budget_contact_emails,
                start_date=config.budget_start_date or first_of_this_month(),
            ),
        )

    if config.demo_app:
        demo_app = DemoApp(
            DEMO_APP,
            DemoAppArgs(
                namespace=workspace.namespace,
                connection=connection,
                source=read_sources("app.py", "index.html"),
                replicas=0 if config.paused else 1,
                image=images.PYTHON_IMAGE,
                labels={**kubernetes_labels(settings, component="demo-app", name="demo-app"), **MODEL_CLIENT_LABEL},
                # Behind the front door, only its proxies reach the app: nobody skips the sign-in from inside.
                clients=(self_proxy_peer(GATEWAY_NAMESPACE, config.namespace),) if settings.public else (),
            ),
            opts=pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=clients_after[1:]))
            if config.paused else after_workspace,
        )
        if not settings.public:
            exposure["demoAppPortForward"] = demo_app.port_forward_command

    if config.metrics or config.container_logs:
        monitoring = build_monitoring(settings, cluster, models, client.object_id, cost.hourly_usd, on_cluster,
                                      model_ready=[*(model_workspace for _, model_workspace in models),
                                                   *clients_after[1:]])
        if monitoring.dashboard_url is not None:
            exposure["grafanaDashboardUrl"] = monitoring.dashboard_url
    return {
        "resourceGroupName": cluster.resource_group_name,
        "clusterName": cluster.cluster_name,
        "oidcIssuerUrl": cluster.oidc_issuer_url,
        "kubeconfig": cluster.kubeconfig,
        "namespace": workspace.namespace,
        "workspaceName": workspace.workspace_name,
        "model": settings.model,
        "instanceType": settings.instance_type,
        "inferenceEndpoint": workspace.inference_endpoint,
        **exposure,
        "estimatedHourlyCostUsd": cost.hourly_usd,
        "estimatedMonthlyCostUsd": cost.monthly_usd,
        "estimatedCostBasis": cost.basis(),
        **({"estimatedHourlyCostUsdAtMaxReplicas": cost.hourly_usd_at_most}
           if cost.hourly_usd_at_most is not None else {}),
        **({"additionalModels": additional} if additional else {}),
        "paused": config.paused,
        "kaitoInstall": settings.mode.name,
        **extra_outputs,
    }


def build_models(settings: Settings, kaito_ready: pulumi.ResourceOptions,
                 weights: BlobModelWeights | None = None) -> list[tuple[ServedModel, KaitoWorkspace]]:
    """A KaitoWorkspace per model: the stack's own as "model" (it creates the namespace), each additional one as
    "model-<workspace>" in that namespace. With weights from Blob, every Workspace waits for the ModelMirrors (KAITO
    would otherwise make its own) and the namespace's streaming service account."""
    config = settings.config
    # One hook for every Workspace, registered in every run: the engine runs a deleted resource's after-delete hook
    # only if the program still registers it (pulumi/pulumi pkg/resource/deploy/deployment.go, "hook %q was not
    # registered"), and a Workspace is deleted exactly when the program no longer declares it (paused, or a model
    # taken out of additionalModels). The hook reads which pool from the deleted Workspace's own inputs.
    gpu_pools = cleanup_hook("model-delete-kaito-gpu-pools", GpuPoolCleanupTarget(
        resource_group=settings.resource_group_name,
        cluster=settings.cluster_name,
        subscription_id=config.subscription_id,
    ))
    built: list[tuple[ServedModel, KaitoWorkspace]] = []
    for served in settings.models:
        waits: list[pulumi.Resource] = [*(weights.mirrors if weights is not None else ())]
        if built and built[0][1].streaming_account is not None:
            waits.append(built[0][1].streaming_account)
        labels = kubernetes_labels(settings, component="inference", instance=served.workspace_name)
        workspace = KaitoWorkspace(
            f"model-{served.workspace_name}" if served.additional else "model",
            KaitoWorkspaceArgs(
                workspace_name=served.workspace_name,
                namespace=config.namespace,
                existing_namespace=built[0][1].namespace if built else None,
                streaming_client_id=weights.reader_client_id if weights is not None else None,
                instance_type=served.instance_type,
                # What the Workspace asks for; KAITO 0.12 computes its own count for vLLM models (and
                # ignores this deprecated field), KAITO 0.6.0 creates exactly this many nodes.
                node_count=served.requested_nodes,
                preset=served.model if served.is_preset else None,
                pod_template=None if served.is_preset else cpu_model_pod_template(served, labels),
                hf_token=hf_token_secret(settings) if settings.needs_access_secret(served) else None,
                readiness_timeout_minutes=served.profile.readiness_timeout_minutes,
                labels=labels,
                model_client_labels=MODEL_CLIENT_LABEL if config.restrict_model_access else None,
                extra_model_clients=(
                    *((self_proxy_peer(GATEWAY_NAMESPACE, config.namespace),) if settings.public else ()),
                    # Managed Prometheus reads /metrics on the model's port; so does the scaler, to count the queue.
                    *((SCRAPER,) if config.metrics else ()),
                    *((scaler_peer(),) if served.replicated else ()),
                ),
                # The namespace is shared: it enforces what every model's pods pass.
                pod_security_enforce=settings.pod_security_level,
                paused=config.paused,
                # Karpenter buys what the Workspace pins (on-demand unless spot is asked for); gpu-provisioner has
                # no choice to make.
                capacity_type=config.capacity_type if settings.uses_karpenter else None,
                replicas=ReplicaRange(served.min_replicas, served.max_replicas) if served.replicated else None,
                gpu_pool_cleanup=gpu_pools,
            ),
            opts=pulumi.ResourceOptions.merge(kaito_ready, pulumi.ResourceOptions(depends_on=waits)) if waits
            else kaito_ready,
        )
        built.append((served, workspace))
    return built


# kaito-aks's own API clients at the front door, with limits of their own (a person chatting; one test question).
DEMO_APP = "demo-app"
SMOKE_TEST = "smoke-test"
OWN_TEAMS = {DEMO_APP: TeamAccess(requests_per_minute=60, tokens_per_minute=100_000),
             SMOKE_TEST: TeamAccess(requests_per_minute=30, tokens_per_minute=20_000)}


def build_front_door(settings: Settings, models: list[tuple[ServedModel, KaitoWorkspace]],
                     tenant_id: pulumi.Input[str], on_cluster: pulumi.ResourceOptions) -> FrontDoor:
    """The gateway platform and the stack's front door (kaito-aks:exposure public)."""
    config = settings.config
    labels = kubernetes_labels(settings, component="front-door", name="front-door")
    platform = GatewayPlatform(
        "gateway-platform",
        GatewayPlatformArgs(redis_image=images.REDIS_IMAGE, labels=labels),
        opts=on_cluster,
    )
    teams = {name: TeamAccess(limits.requests_per_minute, limits.tokens_per_minute, limits.key_version)
             for name, limits in config.api_teams.items()}
    # Every model's smoke test asks through the front door as this one team, at about the same time.
    own_test = OWN_TEAMS[SMOKE_TEST]
    teams[SMOKE_TEST] = TeamAccess(own_test.requests_per_minute * len(models),
                                   own_test.tokens_per_minute * len(models))
    sign_in = None
    if config.demo_app:
        teams[DEMO_APP] = OWN_TEAMS[DEMO_APP]
        secret = config.sign_in_client_secret.reveal() if config.sign_in_client_secret else ""
        sign_in = SignIn(tenant_id=tenant_id, client_id=config.sign_in_client_id or "",
                         client_secret=pulumi.Output.secret(secret))
    workspace = models[0][1]
    return FrontDoor(
        "front-door",
        FrontDoorArgs(
            namespace=workspace.namespace,
            gateway_class_name=platform.gateway_class_name,
            gateway_namespace=platform.gateway_namespace,
            location=settings.location,
            label_prefix=f"kaito-{settings.stack}",
            models=[RoutedModel(served.model, f"{model_workspace.model_service}.{config.namespace}.svc.cluster.local",
                                "model" if not served.additional else f"model-{served.workspace_name}")
                    for served, model_workspace in models],
            teams=teams,
            tls_issuer=config.tls_issuer,
            acme_email=config.acme_email or "",
            allowed_source_ranges=config.allowed_source_ranges,
            hostname=config.hostname,
            chat_service=DEMO_APP if config.demo_app else None,
            sign_in=sign_in,
            labels=labels,
        ),
        opts=pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=platform.ready)),
    )


def build_monitoring(settings: Settings, cluster: AksCluster, models: list[tuple[ServedModel, KaitoWorkspace]],
                     deployer_object_id: pulumi.Input[str], hourly_cost_usd: float, on_cluster: pulumi.ResourceOptions,
                     model_ready: list[pulumi.Resource]) -> ClusterMonitoring:
    """What reads the model's metrics and logs and watches them (kaito-aks:metrics, alerts, grafana,
    containerLogs); on GPU sizes, with the DCGM exporter on the model's nodes."""
    config = settings.config
    gpu_exporter = None
    gpu_nodes = [model_workspace.model_nodes for served, model_workspace in models if served.is_preset]
    if config.metrics and gpu_nodes and not config.paused:
        exporter = GpuMetricsExporter(
            "gpu-metrics",
            GpuMetricsExporterArgs(
                namespace=GPU_METRICS_NAMESPACE,
                image=images.DCGM_EXPORTER_IMAGE,
                gpu_nodes=gpu_nodes,
                scrapers=(SCRAPER,),
                labels=kubernetes_labels(settings, component="gpu-metrics", name="dcgm-exporter"),
            ),
            opts=on_cluster,
        )
        gpu_exporter = (exporter.namespace, exporter.pods)
    return ClusterMonitoring(
        "monitoring",
        ClusterMonitoringArgs(
            resource_group_name=cluster.resource_group_name,
            location=settings.location,
            cluster_name=settings.cluster_name,
            cluster_id=cluster.cluster_id,
            namespace=config.namespace,
            models=[MonitoredModel(served.workspace_name, model_workspace.model_pods,
                                   settings.mode.serving_engine if served.is_preset else LLAMA_CPP)
                    for served, model_workspace in models],
            metrics_workspace_id=cluster.metrics_workspace_id,
            log_workspace_id=cluster.log_workspace_id,
            alerts=AlertSettings(config.alert_ttft_p95_seconds, tuple(config.budget_contact_emails))
            if config.alerts else None,
            gpu_exporter=gpu_exporter,
            front_door_proxies=self_proxy_peer(GATEWAY_NAMESPACE, config.namespace)["podSelector"]["matchLabels"]
            if settings.public else None,
            front_door_namespace=GATEWAY_NAMESPACE,
            grafana=config.grafana,
            grafana_admins=((deployer_object_id, None),
                            *((group, "Group") for group in config.cluster_admin_groups)),
            grafana_viewers=tuple(config.cluster_reader_groups),
            hourly_cost_usd=hourly_cost_usd,
            model_ready=tuple(model_ready),
            model_running=not config.paused,
            labels=kubernetes_labels(settings, component="monitoring"),
            tags=settings.tags,
        ),
        opts=on_cluster,
    )


def hf_token_secret(settings: Settings) -> pulumi.Output[str] | None:
    """kaito-aks:hfToken as a Pulumi secret, for the Kubernetes Secrets that carry it; None when it is not set."""
    token = settings.config.hf_token
    return None if token is None else pulumi.Output.secret(token.reveal())


def in_cluster_connection(workspace: KaitoWorkspace, namespace: str) -> ModelConnection:
    """How a client in the cluster reaches a model: its Service, and its pods for the client's egress policy."""
    return in_cluster_model(inference_endpoint(workspace.model_service, namespace), workspace.model_pods, MODEL_PORT)


def front_door_connection(front_door: FrontDoor, tls_issuer: str) -> ModelConnection:
    """The demo app and the smoke test call the API through the front door, each with its own key, so `pulumi up`
    proves the public, authenticated path. Inside the cluster the gateway's address leads to its proxies (port
    443 is served on 10443 there: Envoy Gateway shifts ports below 1024, envoyproxy/gateway@v1.8.3:internal/
    gatewayapi/translator.go wellKnownPortShift); anywhere else it is the public IP, port 443."""
    return ModelConnection(
        endpoint=front_door.api_base_url,
        identity="front-door",
        destinations=(Destination(({"ipBlock": {"cidr": "0.0.0.0/0"}},), 443),
                      Destination((front_door.proxy_pods,), 10443)),
        api_key_secret=front_door.api_keys_secret,
        verify_tls=tls_issuer == "letsencrypt",
    )


def with_cost_per_million_tokens(measured: dict[str, Any] | None, hourly_usd: float) -> dict[str, Any]:
    """The smoke test's measurement, with what a million output tokens cost at the stack's estimated $/h if the
    model produced them at the measured rate all hour (a lower bound on the rate a busier model reaches)."""
    if not measured:
        return {"error": "the measurement left no result (kubectl logs -n <namespace> pod/smoke-test-load-...)"}
    rate = measured.get("outputTokensPerSecond")
    if not isinstance(rate, (int, float)) or rate <= 0:
        return dict(measured)
    return {**measured, "hourlyCostUsd": hourly_usd,
            "costPerMillionOutputTokensUsd": round(hourly_usd / (rate * 3600) * 1_000_000, 2)}


def first_of_this_month() -> str:
    """Azure wants a budget to start in the current month; the budget then ignores later changes."""
    today = datetime.datetime.now(datetime.UTC).date()
    return today.replace(day=1).isoformat()


def read_sources(*filenames: str) -> dict[str, str]:
    """Files of demo_app/, by name, for a ConfigMap."""
    return {filename: (DEMO_APP_DIR / filename).read_text(encoding="utf-8") for filename in filenames}


def kubernetes_labels(settings: Settings, component: str, name: str = "kaito-aks",
                      instance: str | None = None) -> dict[str, str]:
    """The recommended app.kubernetes.io labels for this stack's objects (instance: the model they belong to, the
    stack's own by default)."""
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/instance": instance or settings.workspace_name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": "kaito-aks",
        "app.kubernetes.io/managed-by": "pulumi",
    }


def cpu_model_pod_template(served: ServedModel, labels: dict[str, str]) -> dict[str, Any]:
    """llama.cpp serving a CPU model, sized for the chosen D-series VM."""
    model = TEMPLATE_MODELS[served.model]
    size = served.vm_size
    server = LlamaCppServer(
        image=images.LLAMA_CPP_SERVER_IMAGE,
        hf_repo=model.hf_repo,
        quantization=model.quantization,
        alias=model.name,
        cpu_request=str(model.min_vcpus),
        # Leave one vCPU for the kubelet and system daemons on the node.
        cpu_limit=str(size.vcpus - 1),
        memory_request=f"{model.min_memory_gib}Gi",
        memory_limit=f"{int(size.memory_gib // 2)}Gi",
    )
    return llama_cpp_pod_template(server, labels)
