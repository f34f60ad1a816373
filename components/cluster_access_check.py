"""Wait until the API server honours the deployer's new cluster-admin role assignment.

With Azure RBAC for Kubernetes authorization, a role assignment reaches the cluster's authorizer some time
after ARM accepts it (MS Learn "Use Azure RBAC for Kubernetes authorization": up to a few minutes). Until
then every Kubernetes object of the first `pulumi up` would fail with 403. An after-create hook on the
assignment therefore asks the API server, as the deployer, whether it may create namespaces (a
SelfSubjectAccessReview, which every signed-in user may post) until the answer is yes; the Kubernetes
provider, and so every object, waits for the assignment and its hook (pulumi/pulumi@v3.259.0:pkg/resource/
deploy/step.go, CreateStep.Apply runs after-create hooks before the step completes).
"""

from __future__ import annotations

import base64
import json
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

import pulumi
import yaml

from components import azure_api
from components.identity import subscription_of

AKS_SERVER_APP_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"
"""The Entra application every AKS API server accepts tokens for (Azure/kubelogin@v0.2.19:docs/book/src/concepts/
aks.md)."""
WAIT_SECONDS = 600
POLL_SECONDS = 10
UNREACHABLE_ATTEMPTS = 3


class ClusterUnreachable(Exception):
    """The API server did not answer at all."""


@dataclass(frozen=True)
class ApiServer:
    url: str
    ca_pem: str


def api_server_of(kubeconfig_text: str) -> ApiServer:
    """The first cluster's URL and CA certificate in a kubeconfig."""
    cluster = yaml.safe_load(kubeconfig_text)["clusters"][0]["cluster"]
    return ApiServer(cluster["server"], base64.b64decode(cluster["certificate-authority-data"]).decode())


def may_create_namespaces(server: ApiServer, token: str, timeout: float = 10) -> bool:
    """Ask the API server whether the token's identity may create namespaces (cluster-admin may)."""
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"verb": "create", "resource": "namespaces"}},
    }
    request = urllib.request.Request(
        f"{server.url.rstrip('/')}/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        data=json.dumps(review).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    context = ssl.create_default_context(cadata=server.ca_pem)
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            return bool(json.load(response).get("status", {}).get("allowed"))
    except urllib.error.HTTPError as error:
        if error.code in (401, 403):
            return False  # not (yet) known to the authorizer
        raise
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise ClusterUnreachable(str(getattr(error, "reason", error))) from None


def wait_until_allowed(
    probe: Callable[[], bool],
    server_url: str,
    wait_seconds: int = WAIT_SECONDS,
    poll_seconds: int = POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    log: Callable[[str], None] = print,
) -> int:
    """Poll `probe` until it says yes; return how many times it was asked. Fails with what to do."""
    unreachable = 0
    for attempt in range(1, wait_seconds // poll_seconds + 2):
        try:
            if probe():
                if attempt > 1:
                    log(f"cluster access granted after about {(attempt - 1) * poll_seconds} s")
                return attempt
            unreachable = 0
        except ClusterUnreachable as error:
            unreachable += 1
            if unreachable >= UNREACHABLE_ATTEMPTS:
                raise RuntimeError(
                    f"cannot reach the API server {server_url} ({error}). If kaito-aks:apiServerAuthorizedIpRanges "
                    f"is set, add this machine's address (`curl -s ifconfig.me`), then run `pulumi up` again"
                ) from None
        if attempt == 1:
            log(f"waiting for Azure RBAC to admit the deployer to {server_url} (a new role assignment takes up "
                f"to a few minutes; at most {wait_seconds // 60} min)")
        elif attempt % 6 == 1:
            log(f"still waiting for cluster access ({(attempt - 1) * poll_seconds} s so far)")
        sleep(poll_seconds)
    raise RuntimeError(
        f"the deployer's Azure Kubernetes Service RBAC Cluster Admin assignment exists, but {server_url} still "
        f"refuses it after {wait_seconds // 60} minutes; run `pulumi up` again in a few minutes (nothing is lost)"
    )


def cluster_access_hook(name: str) -> pulumi.ResourceHook:
    """An after-create hook for the deployer's role assignment on the cluster (its `scope`)."""

    def after_assignment_created(args: pulumi.ResourceHookArgs) -> None:
        cluster_id = str((args.new_inputs or {})["scope"])
        parts = cluster_id.split("/")
        resource_group, cluster = parts[4], parts[8]
        clusters = azure_api.managed_clusters_client(subscription_of(cluster_id))
        credentials = clusters.list_cluster_user_credentials(resource_group, cluster, format="exec")
        server = api_server_of(credentials.kubeconfigs[0].value.decode())
        token = azure_api.credential().get_token(f"{AKS_SERVER_APP_ID}/.default").token
        wait_until_allowed(lambda: may_create_namespaces(server, token), server.url, log=pulumi.log.info)

    return azure_api.blocking_hook(name, after_assignment_created)
