"""A tool made ready to call: its name and schemas checked once, its params validator
built once; and the validation of one call's params against it.

Its own module because plugin tools (``service``) and folder tools (``folder``) are
both compiled this way, and a folder tool keeps its compiled form between calls.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import msgspec
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, best_match

from seqd.errors import ValidationFailed
from seqd.model.tasks import Problem
from seqd.plugins.tools import Tool
from seqd.rpc.params import validation_details

TOOL_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}(\.[a-z0-9][a-z0-9_-]{0,63}){1,3}")
_REQUIRED = re.compile(r"^'(.+)' is a required property$")


@dataclass
class CompiledTool:
    """A tool with its schema checked and its validator built (once per tool)."""

    tool: Tool
    params_schema: dict[str, Any]
    result_schema: dict[str, Any]
    struct: type[msgspec.Struct] | None
    validator: Draft202012Validator | None
    problems: list[Problem]


def _inline_top(schema: dict[str, Any]) -> dict[str, Any]:
    """msgspec describes a Struct as ``{"$ref": "#/$defs/X", "$defs": ...}``; clients
    read the params object more easily with X's own schema on top."""
    ref = schema.get("$ref")
    defs = schema.get("$defs", {})
    if isinstance(ref, str) and ref.startswith("#/$defs/") and len(schema) == 2:
        name = ref.removeprefix("#/$defs/")
        top = dict(defs.get(name, {}))
        rest = {k: v for k, v in defs.items() if k != name}
        if top and not any(f"#/$defs/{name}" in str(v) for v in rest.values()):
            if rest:
                top["$defs"] = rest
            return top
    return schema


def _schema_of(value: Any, what: str) -> tuple[dict[str, Any], type[msgspec.Struct] | None]:
    if isinstance(value, dict):
        Draft202012Validator.check_schema(value)
        return value, None
    if isinstance(value, type):
        schema = _inline_top(msgspec.json.schema(value))
        struct = value if issubclass(value, msgspec.Struct) else None
        return schema, struct
    raise TypeError(f"{what} must be a JSON Schema object or a msgspec type")


def compile_tool(tool: Tool) -> CompiledTool:
    """Check a tool's name and schemas; problems make it uncallable, not the daemon."""
    problems: list[Problem] = []
    params: dict[str, Any] = {}
    result: dict[str, Any] = {}
    struct: type[msgspec.Struct] | None = None
    validator: Draft202012Validator | None = None
    if not TOOL_NAME.fullmatch(tool.name):
        problems.append(Problem(where="name", message=f"{tool.name!r} is not a dotted tool name"))
    try:
        params, struct = _schema_of(tool.params_schema, "params_schema")
        if struct is None:
            validator = Draft202012Validator(params)
        if params.get("type", "object") != "object" and "$ref" not in params:
            problems.append(Problem(where="params_schema", message='must have "type": "object"'))
    except (SchemaError, TypeError) as exc:
        message = exc.message if isinstance(exc, SchemaError) else str(exc)
        problems.append(Problem(where="params_schema", message=message))
    try:
        result, _ = _schema_of(tool.result_schema, "result_schema")
    except (SchemaError, TypeError) as exc:
        message = exc.message if isinstance(exc, SchemaError) else str(exc)
        problems.append(Problem(where="result_schema", message=message))
    return CompiledTool(tool, params, result, struct, validator, problems)


def validate_params(compiled: CompiledTool, params: dict[str, Any]) -> Any:
    """``params`` checked against the tool's schema: converted into its Struct, or
    validated by its JSON Schema; errors name ``params.<field>``."""
    name = compiled.tool.name
    if compiled.struct is not None:
        try:
            return msgspec.convert(params, compiled.struct)
        except msgspec.ValidationError as exc:
            _message, details = validation_details(exc)
            field = f"params.{details['field']}" if details["field"] else "params"
            raise ValidationFailed(
                f"{name}: {field}: {details['reason']}",
                {"field": field, "reason": details["reason"], "tool": name},
            ) from None
    if compiled.validator is not None:
        error = best_match(compiled.validator.iter_errors(params))
        if error is not None:
            path = ".".join(str(p) for p in error.absolute_path)
            missing = _REQUIRED.match(error.message) if error.validator == "required" else None
            if missing is not None:
                path = f"{path}.{missing.group(1)}" if path else missing.group(1)
            field = f"params.{path}" if path else "params"
            raise ValidationFailed(
                f"{name}: {field}: {error.message}",
                {"field": field, "reason": error.message, "tool": name},
            )
    return params
