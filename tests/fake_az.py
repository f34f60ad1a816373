#!/usr/bin/env python3
"""A stand-in for the Azure CLI, for tests of scripts/setup-azure: it answers the commands the script uses
from a JSON file (FAKE_AZ_STATE), creates what the script creates, and logs every call (FAKE_AZ_LOG)."""

from __future__ import annotations

import json
import os
import re
import sys
import uuid
from pathlib import Path

STATE = Path(os.environ["FAKE_AZ_STATE"])
LOG = Path(os.environ["FAKE_AZ_LOG"])
SUBSCRIPTION = "8c1e5b9a-3f42-4d7e-9a61-2b7f0c4d9e13"
TENANT = "2b0d6c3e-1111-4a2b-9c3d-4e5f6a7b8c9d"
ME = "7a6b5c4d-2222-4e3f-8a9b-0c1d2e3f4a5b"


def options(argv: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for index, item in enumerate(argv):
        if item.startswith("--"):
            following = argv[index + 1] if index + 1 < len(argv) else ""
            found[item] = "" if following.startswith("--") else following
    return found


def new_id(kind: str, name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{kind}/{name}"))


def main(argv: list[str]) -> int:
    state = json.loads(STATE.read_text()) if STATE.exists() else {
        "apps": {}, "principals": {}, "credentials": {}, "assignments": [], "accounts": [], "vaults": [], "keys": []}
    with LOG.open("a") as log:
        log.write(json.dumps(argv) + "\n")
    words = [item for item in argv if not item.startswith("-")][:4]
    given = options(argv)
    out = ""
    code = 0
    if words[:2] == ["account", "show"]:
        out = {"id": SUBSCRIPTION, "tenantId": TENANT}.get(given.get("--query", ""), "")
    elif words[:3] == ["ad", "app", "list"]:
        out = state["apps"].get(given["--display-name"], "")
    elif words[:3] == ["ad", "app", "create"]:
        out = state["apps"][given["--display-name"]] = new_id("app", given["--display-name"])
    elif words[:3] == ["ad", "sp", "show"]:
        principal = state["principals"].get(given["--id"])
        code = 0 if principal else 3
        out = (principal or "") if given.get("--query") == "id" else ""
    elif words[:3] == ["ad", "sp", "create"]:
        state["principals"][given["--id"]] = new_id("principal", given["--id"])
    elif words[:4] == ["ad", "app", "federated-credential", "list"]:
        name = re.search(r"name=='([^']+)'", given["--query"]).group(1)
        out = name if name in state["credentials"].get(given["--id"], {}) else ""
    elif words[:4] == ["ad", "app", "federated-credential", "create"]:
        parameters = json.loads(given["--parameters"])
        state["credentials"].setdefault(given["--id"], {})[parameters["name"]] = parameters
    elif words[:3] == ["role", "assignment", "list"]:
        found = next((a for a in state["assignments"] if (a["principal"], a["role"], a["scope"]) == (
            given["--assignee"], given["--role"], given["--scope"])), None)
        field = given["--query"].removeprefix("[0].")
        out = (found or {}).get(field) or ""
    elif words[:3] == ["role", "assignment", "delete"]:
        state["assignments"] = [a for a in state["assignments"] if a["id"] != given["--ids"]]
    elif words[:3] == ["role", "assignment", "create"]:
        state["assignments"].append({
            "id": new_id("assignment", f"{given['--assignee-object-id']}{given['--role']}{given['--scope']}"),
            "principal": given["--assignee-object-id"], "principalType": given["--assignee-principal-type"],
            "role": given["--role"], "scope": given["--scope"], "condition": given.get("--condition"),
            "conditionVersion": given.get("--condition-version")})
    elif words[:3] == ["ad", "signed-in-user", "show"]:
        out = ME
    elif words[:2] == ["group", "create"]:
        pass
    elif words[:3] == ["storage", "account", "show"]:
        exists = given["--name"] in state["accounts"]
        code = 0 if exists else 3
        out = (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{given['--resource-group']}/providers/"
               f"Microsoft.Storage/storageAccounts/{given['--name']}") if exists and "--query" in given else ""
    elif words[:3] == ["storage", "account", "create"]:
        state["accounts"].append(given["--name"])
    elif words[:3] == ["storage", "container", "create"]:
        pass
    elif words[:2] == ["keyvault", "show"]:
        exists = given["--name"] in state["vaults"]
        code = 0 if exists else 3
        out = (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-kaito-aks-state/providers/Microsoft.KeyVault/"
               f"vaults/{given['--name']}") if exists and "--query" in given else ""
    elif words[:2] == ["keyvault", "create"]:
        state["vaults"].append(given["--name"])
    elif words[:3] == ["keyvault", "key", "show"]:
        code = 0 if given["--vault-name"] in state["keys"] else 3
    elif words[:3] == ["keyvault", "key", "create"]:
        state["keys"].append(given["--vault-name"])
    else:
        print(f"fake az: unexpected command {argv}", file=sys.stderr)
        return 2
    STATE.write_text(json.dumps(state))
    if out:
        print(out)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
