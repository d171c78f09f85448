"""The OpenRPC document of the API, generated from the wire types in ``protocol``.

``rpc.discover`` serves it and docs/protocol.md's method reference is rendered from
it (``python -m seqd.rpc.openrpc --markdown``), so neither can drift from the code.
"""

from __future__ import annotations

import sys
from typing import Any

import msgspec

from seqd import __version__
from seqd.errors import ALL_ERRORS
from seqd.model.schemas import schema_components
from seqd.rpc.protocol import METHODS, PROTOCOL_VERSION

REF = "#/components/schemas/{name}"


def document() -> dict[str, Any]:
    types: list[Any] = []
    for spec in METHODS.values():
        types.append(spec.params)
        types.append(spec.result)
    schemas, components = schema_components(types, ref_template=REF)
    methods = []
    for index, (name, spec) in enumerate(METHODS.items()):
        params_schema = components[spec.params.__name__]
        required = set(params_schema.get("required", []))
        params = [
            {"name": field, "required": field in required, "schema": schema}
            for field, schema in params_schema.get("properties", {}).items()
        ]
        methods.append(
            {
                "name": name,
                "summary": spec.summary,
                "paramStructure": "by-name",
                "params": params,
                "result": {"name": "result", "schema": schemas[2 * index + 1]},
                "x-role": spec.role,
            }
        )
    errors = {
        cls.type if cls.type != "validation" else f"validation{cls.code}": {
            "code": cls.code,
            "message": cls.__name__,
            "data": {"type": cls.type},
        }
        for cls in ALL_ERRORS
    }
    return {
        "openrpc": "1.2.6",
        "info": {
            "title": "seqd",
            "version": __version__,
            "x-protocol": PROTOCOL_VERSION,
            "description": "Newline-delimited JSON-RPC 2.0 over a Unix socket.",
        },
        "methods": methods,
        "components": {"schemas": components, "errors": errors},
    }


def markdown(doc: dict[str, Any]) -> str:
    """The method reference of docs/protocol.md."""
    lines = [
        "| method | role | params | result | summary |",
        "| --- | --- | --- | --- | --- |",
    ]
    for method in doc["methods"]:
        params = (
            ", ".join(f"`{p['name']}`" + ("" if p["required"] else "?") for p in method["params"])
            or "—"
        )
        result = method["result"]["schema"]
        ref = result.get("$ref", "")
        shown = ref.rsplit("/", 1)[-1] if ref else result.get("type", "any")
        role = method["x-role"]
        lines.append(f"| `{method['name']}` | {role} | {params} | {shown} | {method['summary']} |")
    lines.append("")
    lines.append("Errors (`error.code`, `error.data.type`):")
    lines.append("")
    for error in doc["components"]["errors"].values():
        lines.append(f"- `{error['code']}` `{error['data']['type']}` — {error['message']}")
    return "\n".join(lines) + "\n"


def main() -> None:
    doc = document()
    if "--markdown" in sys.argv[1:]:
        sys.stdout.write(markdown(doc))
    else:
        sys.stdout.write(msgspec.json.format(msgspec.json.encode(doc)).decode() + "\n")


if __name__ == "__main__":
    main()
