"""JSON Schemas generated from msgspec types, with descriptions that do not depend on
the msgspec version.

msgspec copies a Struct's docstring into ``description``; releases differ on whether
they dedent it first (0.23 does, earlier ones did not), and on where ``null`` goes in
the ``anyOf`` of an optional field. Generated files that tests compare with golden
copies must be the same with every allowed version, so every description goes through
``inspect.cleandoc`` here (a no-op on text already clean) and ``null`` comes last.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any

import msgspec


def json_schema(type_: Any) -> dict[str, Any]:
    """``msgspec.json.schema`` with clean descriptions."""
    generated: dict[str, Any] = tidy(msgspec.json.schema(type_))
    return generated


def schema_components(
    types: Iterable[Any], ref_template: str
) -> tuple[tuple[dict[str, Any], ...], dict[str, Any]]:
    """``msgspec.json.schema_components`` with clean descriptions."""
    schemas, components = msgspec.json.schema_components(types, ref_template=ref_template)
    return tuple(tidy(s) for s in schemas), tidy(components)


def tidy(value: Any) -> Any:
    """``value`` with every ``description`` string dedented and ``null`` last in every
    ``anyOf``, recursively, in place."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "description" and isinstance(item, str):
                value[key] = inspect.cleandoc(item)
            else:
                tidy(item)
        if isinstance(value.get("anyOf"), list):
            value["anyOf"].sort(key=lambda option: option == {"type": "null"})
    elif isinstance(value, list):
        for item in value:
            tidy(item)
    return value
