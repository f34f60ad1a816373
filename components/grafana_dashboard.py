"""GrafanaDashboard: a dashboard JSON put into an Azure Managed Grafana instance through its HTTP API.

Azure has no ARM resource for a dashboard inside Managed Grafana (pulumi_azure_native.dashboard.Dashboard is the
separate "Azure Monitor dashboards with Grafana" product), so this is a small Pulumi dynamic resource: create and
update POST the JSON to /api/dashboards/db with overwrite, delete removes it by uid. It signs in as whoever runs
`pulumi up` (DefaultAzureCredential: az login, or the workflow's federated token) with a token for Managed
Grafana's first-party application (MicrosoftDocs/azure-docs:articles/managed-grafana/how-to-api-calls.md,
resource ce34e7e5-485f-4d76-964f-b3d2b16d1e4f), which the deployer's Grafana Admin assignment lets in.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi.dynamic

GRAFANA_APP_ID = "ce34e7e5-485f-4d76-964f-b3d2b16d1e4f"
TokenSource = Callable[[], str]
# A role assignment takes effect minutes after it is created (MS Learn, "Troubleshoot Azure RBAC": up to 10
# minutes): on a first `pulumi up` the deployer's new Grafana Admin may not be honoured yet.
ROLE_PROPAGATION_SECONDS = 600


class GrafanaError(RuntimeError):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def azure_token() -> str:
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(exclude_interactive_browser_credential=True).get_token(
        f"{GRAFANA_APP_ID}/.default").token


def grafana_request(endpoint: str, method: str, path: str, token: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        endpoint.rstrip("/") + path, method=method, data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode() or "{}"
            return json.loads(text)
    except urllib.error.HTTPError as error:
        detail = error.read(500).decode("utf-8", "replace")
        hint = " (the deployer needs Grafana Admin on the instance; kaito-aks assigns it)" if error.code in (
            401, 403) else ""
        raise GrafanaError(f"Grafana {endpoint} answered {error.code} to {method} {path}: {detail}{hint}",
                           error.code) from None


class GrafanaDashboardProvider(pulumi.dynamic.ResourceProvider):
    """Create, update and delete one dashboard by its uid."""

    def __init__(self, token: TokenSource = azure_token, sleep: Callable[[float], None] = time.sleep,
                 patience_seconds: float = ROLE_PROPAGATION_SECONDS) -> None:
        self.token = token
        self.sleep = sleep
        self.patience_seconds = patience_seconds

    def _put(self, props: dict[str, Any]) -> dict[str, Any]:
        dashboard = json.loads(props["dashboard_json"])
        body = {"dashboard": {**dashboard, "id": None}, "overwrite": True, "message": "kaito-aks pulumi up"}
        waited, pause = 0.0, 15.0
        while True:
            try:
                answer = grafana_request(props["endpoint"], "POST", "/api/dashboards/db", self.token(), body)
                break
            except GrafanaError as error:
                # Denied while the Grafana Admin assignment made moments ago propagates: ask again, with a new token.
                if error.code not in (401, 403) or waited >= self.patience_seconds:
                    raise
                self.sleep(pause)
                waited += pause
                pause = min(pause * 2, 60.0)
        return {**props, "url": props["endpoint"].rstrip("/") + answer.get("url", f"/d/{dashboard['uid']}")}

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        outs = self._put(props)
        return pulumi.dynamic.CreateResult(id_=json.loads(props["dashboard_json"])["uid"], outs=outs)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        return pulumi.dynamic.UpdateResult(outs=self._put(news))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        changed = [key for key in ("endpoint", "dashboard_json") if olds.get(key) != news.get(key)]
        return pulumi.dynamic.DiffResult(changes=bool(changed), replaces=["endpoint"] if "endpoint" in changed else [])

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        try:
            grafana_request(props["endpoint"], "DELETE", f"/api/dashboards/uid/{_id}", self.token())
        except GrafanaError as error:
            if error.code != 404:
                raise


class GrafanaDashboard(pulumi.dynamic.Resource):
    """One dashboard in a Managed Grafana instance."""

    url: pulumi.Output[str]

    def __init__(self, name: str, endpoint: pulumi.Input[str], dashboard_json: pulumi.Input[str],
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(GrafanaDashboardProvider(), name,
                         {"endpoint": endpoint, "dashboard_json": dashboard_json, "url": None}, opts)
