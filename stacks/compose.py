"""Wire the components together for one stack and return what the stack exports."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any, Optional

import pulumi

from components.budget import CostBudget, CostBudgetArgs
from components.cluster import AksCluster, AksClusterArgs
from components.demo_app import DemoApp, DemoAppArgs
from components.gpu_pools import GpuPoolCleanup
from components.kaito_install import UpstreamKaito, UpstreamKaitoArgs
from components.smoke_test import SmokeTest, SmokeTestArgs
from components.workspace import KaitoWorkspace, KaitoWorkspaceArgs, inference_endpoint, llama_cpp_pod_template
from stacks import catalog
from stacks.cost import estimate
from stacks.settings import Settings

DEMO_APP_DIR = Path(__file__).resolve().parent.parent / "demo_app"
# Pods carrying this label may reach the model when kaito-aks:restrictModelAccess is on.
MODEL_CLIENT_LABEL = {"kaito-aks/model-client": "true"}


def compose(settings: Settings) -> dict[str, Any]:
    """Build the stack described by `settings`; return its outputs, keyed by export name."""
    cluster = AksCluster(
        "cluster",
        AksClusterArgs(
            resource_group_name=settings.resource_group_name,
            cluster_name=settings.cluster_name,
            location=settings.location,
            system_node_vm_size=settings.system_node_vm_size,
            system_node_count=settings.system_node_count,
            kubernetes_version=settings.kubernetes_version,
            tags=settings.tags,
            ai_toolchain_operator=settings.kaito_install == catalog.ADDON,
        ),
    )
    kaito_ready: Optional[pulumi.ResourceOptions] = None
    extra_outputs: dict[str, Any] = {}
    if settings.kaito_install == catalog.UPSTREAM:
        upstream = UpstreamKaito(
            "kaito",
            UpstreamKaitoArgs(
                cluster_name=settings.cluster_name,
                resource_group_name=cluster.resource_group_name,
                location=settings.location,
                cluster_id=cluster.cluster_id,
                node_resource_group=cluster.node_resource_group,
                oidc_issuer_url=cluster.oidc_issuer_url,
                tags=settings.tags,
            ),
            provider=cluster.provider,
        )
        kaito_ready = pulumi.ResourceOptions(depends_on=[upstream])
        extra_outputs["gpuProvisionerClientId"] = upstream.identity.client_id

    labels = kubernetes_labels(settings, component="inference")
    hf_token: Optional[pulumi.Output[str]] = None
    if settings.needs_model_access_secret and settings.hf_token is not None:
        hf_token = pulumi.Output.secret(settings.hf_token.reveal())
    workspace = KaitoWorkspace(
        "model",
        KaitoWorkspaceArgs(
            workspace_name=settings.workspace_name,
            namespace=settings.namespace,
            instance_type=settings.instance_type,
            node_count=settings.node_count,
            model=settings.model,
            preset=settings.model if settings.is_preset else None,
            pod_template=None if settings.is_preset else cpu_model_pod_template(settings, labels),
            hf_token=hf_token,
            readiness_timeout_minutes=settings.profile.readiness_timeout_minutes,
            labels=labels,
            model_client_labels=MODEL_CLIENT_LABEL if settings.restrict_model_access else None,
            paused=settings.paused,
            gpu_pool_cleanup=GpuPoolCleanup(
                resource_group=settings.resource_group_name,
                cluster=settings.cluster_name,
                agent_pools=lambda: agent_pools_client(settings),
            ),
        ),
        provider=cluster.provider,
        opts=kaito_ready,
    )
    endpoint = inference_endpoint(settings.workspace_name, settings.namespace)
    after_workspace = pulumi.ResourceOptions(depends_on=[workspace])

    if not settings.paused:
        SmokeTest(
            "smoke-test",
            SmokeTestArgs(
                namespace=workspace.namespace,
                inference_endpoint=endpoint,
                model=settings.model,
                source=read_sources("app.py", "smoke_test.py"),
                image=catalog.PYTHON_IMAGE,
                labels={**kubernetes_labels(settings, component="smoke-test"), **MODEL_CLIENT_LABEL},
            ),
            provider=cluster.provider,
            opts=after_workspace,
        )

    if settings.budget_monthly_usd:
        CostBudget(
            "cost-budget",
            CostBudgetArgs(
                scope=cluster.resource_group_id,
                budget_name=f"budget-{settings.resource_group_name}",
                amount_usd=settings.budget_monthly_usd,
                contact_emails=settings.budget_contact_emails,
                start_date=settings.budget_start_date or first_of_this_month(),
            ),
        )

    exposure: dict[str, Any] = {}
    if settings.demo_app:
        demo_app = DemoApp(
            "demo-app",
            DemoAppArgs(
                namespace=workspace.namespace,
                inference_endpoint=workspace.inference_endpoint,
                source=read_sources("app.py", "index.html"),
                replicas=0 if settings.paused else 1,
                image=catalog.PYTHON_IMAGE,
                public=settings.public,
                allowed_source_ranges=settings.allowed_source_ranges,
                labels={**kubernetes_labels(settings, component="demo-app", name="demo-app"), **MODEL_CLIENT_LABEL},
            ),
            provider=cluster.provider,
            opts=None if settings.paused else after_workspace,
        )
        if demo_app.url is not None:
            exposure["demoAppUrl"] = demo_app.url
        else:
            exposure["demoAppPortForward"] = demo_app.port_forward_command

    cost = estimate(settings)
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
        "paused": settings.paused,
        "kaitoInstall": settings.kaito_install,
        **extra_outputs,
    }


def first_of_this_month() -> str:
    """Azure wants a budget to start in the current month; the budget then ignores later changes."""
    today = datetime.datetime.now(datetime.timezone.utc).date()
    return today.replace(day=1).isoformat()


def agent_pools_client(settings: Settings):
    """The AKS AgentPools API, built only when a hook really deletes something."""
    from azure.identity import DefaultAzureCredential
    from azure.mgmt.containerservice import ContainerServiceClient

    from stacks.preflight import find_subscription

    return ContainerServiceClient(DefaultAzureCredential(), find_subscription(settings)).agent_pools


def read_sources(*filenames: str) -> dict[str, str]:
    """Files of demo_app/, by name, for a ConfigMap."""
    return {filename: (DEMO_APP_DIR / filename).read_text(encoding="utf-8") for filename in filenames}


def kubernetes_labels(settings: Settings, component: str, name: str = "kaito-aks") -> dict[str, str]:
    """The recommended app.kubernetes.io labels for this stack's objects."""
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/instance": settings.workspace_name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": "kaito-aks",
        "app.kubernetes.io/managed-by": "pulumi",
    }


def cpu_model_pod_template(settings: Settings, labels: dict[str, str]) -> dict[str, Any]:
    """llama.cpp serving a CPU template model, sized for the chosen D-series VM."""
    model = catalog.TEMPLATE_MODELS[settings.model]
    size = settings.vm_size
    return llama_cpp_pod_template(
        image=catalog.LLAMA_CPP_SERVER_IMAGE,
        hf_repo=model.hf_repo,
        quantization=model.quantization,
        alias=model.name,
        cpu_request=str(model.min_vcpus),
        # Leave one vCPU for the kubelet and system daemons on the node.
        cpu_limit=str(size.vcpus - 1),
        memory_request=f"{model.min_memory_gib}Gi",
        memory_limit=f"{int(size.memory_gib // 2)}Gi",
        labels=labels,
    )
