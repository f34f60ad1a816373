"""Turn a CustomResourceDefinition's openAPIV3Schema into a strict JSON Schema for the tests: the object's
schema for one served version, with `additionalProperties: false` wherever Kubernetes would prune unknown
fields (an object with `properties` and neither `x-kubernetes-preserve-unknown-fields` nor
`additionalProperties`), and apiVersion/kind fixed. Kubernetes-only keywords are dropped.

    python tests/schemas/make_strict.py <crd.yaml> <Kind> <version> <out.json> "<source note>"

The CRD files themselves come from the upstream repositories at the pinned tags (SOURCES.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

KUBERNETES_KEYWORDS = ("x-kubernetes-", "x-kubernetes-validations")


def strict(schema: object) -> object:
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: strict(value) for key, value in schema.items() if not key.startswith(KUBERNETES_KEYWORDS)}
    if (schema.get("type") == "object" and "properties" in schema and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    return out


def main(crd_path: str, kind: str, version: str, out_path: str, source: str) -> None:
    documents = [d for d in yaml.safe_load_all(Path(crd_path).read_text()) if d]
    crd = next(d for d in documents if d.get("kind") == "CustomResourceDefinition"
               and d["spec"]["names"]["kind"] == kind)
    served = next(v for v in crd["spec"]["versions"] if v["name"] == version)
    schema = strict(served["schema"]["openAPIV3Schema"])
    group = crd["spec"]["group"]
    schema["properties"]["apiVersion"] = {"const": f"{group}/{version}"}
    schema["properties"]["kind"] = {"const": kind}
    schema["properties"]["metadata"] = {"type": "object"}
    schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata"})
    document = {"$comment": f"{kind} {group}/{version} from {source} (openAPIV3Schema), made strict by "
                            f"tests/schemas/make_strict.py", **schema}
    Path(out_path).write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:6])
