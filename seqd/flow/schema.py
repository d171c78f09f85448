"""The JSON Schema of ``graph.json`` for editors: ``python -m seqd.flow.schema``.

Generated from the Structs in ``seqd.flow.graph`` (``msgspec.json.schema``), then
tidied: a draft 2020-12 header, each field's docstring as its ``description`` (so an
editor shows it on hover), and the naming rules decoding leaves to the analyzer
(state names, task names) as patterns. ``docs/flow.schema.json`` is this output; a test
keeps the two equal, so the schema cannot drift from the code.
"""

from __future__ import annotations

import ast
import inspect
import sys
from itertools import pairwise
from typing import Any

import msgspec

from seqd.flow import graph as graph_module
from seqd.flow.graph import Graph
from seqd.model.schemas import json_schema
from seqd.model.tasks import TASK_NAME_PATTERN

STATE_NAME_PATTERN = "^[A-Za-z_][A-Za-z0-9_-]{0,63}$"
_TASK_FIELDS = {"TaskState": "task", "MapState": "task", "Compensate": "task"}


def document() -> dict[str, Any]:
    """The schema, as a JSON-ready dict."""
    generated = json_schema(Graph)
    defs: dict[str, Any] = generated["$defs"]
    docs = _field_docs()
    for name, definition in defs.items():
        cls = getattr(graph_module, name)
        for field, schema in definition.get("properties", {}).items():
            attr = _attr_name(cls, field)
            text = next(
                (docs[c.__name__][attr] for c in cls.__mro__ if attr in docs.get(c.__name__, {})),
                None,
            )
            if text:
                schema["description"] = text
        if "states" in definition.get("properties", {}):
            definition["properties"]["states"]["propertyNames"] = {"pattern": STATE_NAME_PATTERN}
        if name in _TASK_FIELDS:
            definition["properties"][_TASK_FIELDS[name]]["pattern"] = TASK_NAME_PATTERN
    for name in ("ParallelState", "MapState"):
        defs[name]["properties"]["join"]["description"] = _join_doc()
    defs["Graph"]["properties"]["$schema"]["description"] = (
        "Where this schema is (a path or URL), for editors; seqd ignores it."
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "seqd flow graph (tasks/<name>/graph.json)",
        "description": "A flow's states and transitions; see docs/flows.md.",
        "$ref": generated["$ref"],
        "$defs": defs,
    }


def _attr_name(cls: type[msgspec.Struct], encoded: str) -> str:
    for field in msgspec.structs.fields(cls):
        if field.encode_name == encoded:
            return field.name
    return encoded


def _clean(text: str) -> str:
    return " ".join(inspect.cleandoc(text).replace("``", "`").split())


def _field_docs() -> dict[str, dict[str, str]]:
    """Attribute docstrings (a string right after a field) of every class in graph.py."""
    tree = ast.parse(inspect.getsource(graph_module))
    out: dict[str, dict[str, str]] = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        fields: dict[str, str] = {}
        body = node.body
        for current, following in pairwise(body):
            if (
                isinstance(current, ast.AnnAssign)
                and isinstance(current.target, ast.Name)
                and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            ):
                fields[current.target.id] = _clean(following.value.value)
        out[node.name] = fields
    return out


def _join_doc() -> str:
    """The docstring written under ``Join = Literal[...]`` in graph.py."""
    tree = ast.parse(inspect.getsource(graph_module))
    for current, following in pairwise(tree.body):
        if (
            isinstance(current, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "Join" for t in current.targets)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
        ):
            return _clean(str(following.value.value))
    return ""


def render() -> str:
    """The schema as the text of docs/flow.schema.json."""
    return msgspec.json.format(msgspec.json.encode(document()), indent=2).decode() + "\n"


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
