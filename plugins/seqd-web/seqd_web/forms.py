"""A task's submit form, generated from its input JSON Schema, and the form's values
turned back into the input object.

Top-level properties get a field each (text, number, checkbox, a choice for ``enum``,
JSON for objects and arrays); a task without a schema gets one JSON field. The daemon
validates the input as it does for seqctl; here a value is only converted to the type
its property declares, and a value that is not is reported naming the field."""

from __future__ import annotations

import json
from typing import Any

from seqd_web.render import esc

JSON_FIELD = "__json__"


class FormError(ValueError):
    """A form value that cannot be the type its property declares."""


def _kind(prop: dict[str, Any]) -> str:
    kind = prop.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    return kind if isinstance(kind, str) else "json"


def fields(schema: dict[str, Any] | None) -> str:
    props = (schema or {}).get("properties")
    if not isinstance(props, dict) or not props:
        return (
            f'<label>Input (JSON object)<textarea name="{JSON_FIELD}" rows="4">{{}}'
            "</textarea></label>"
        )
    required = set((schema or {}).get("required") or [])
    out = []
    for name, prop in props.items():
        prop = prop if isinstance(prop, dict) else {}
        label = f"{esc(name)}{' *' * (name in required)}"
        hint = f"<small>{esc(prop.get('description', ''))}</small>"
        req = " required" * (name in required)
        default = prop.get("default")
        kind = _kind(prop)
        if isinstance(prop.get("enum"), list):
            opts = "".join(
                f'<option value="{esc(json.dumps(v))}"{" selected" * (v == default)}>{esc(v)}'
                "</option>"
                for v in prop["enum"]
            )
            control = f'<select name="{esc(name)}">{opts}</select>'
        elif kind == "boolean":
            checked = " checked" * bool(default)
            control = f'<input type="checkbox" name="{esc(name)}" value="true"{checked}>'
        elif kind in ("integer", "number"):
            step = "1" if kind == "integer" else "any"
            value = "" if default is None else esc(default)
            control = f'<input type="number" step="{step}" name="{esc(name)}" value="{value}"{req}>'
        elif kind == "string":
            value = "" if default is None else esc(default)
            control = f'<input name="{esc(name)}" value="{value}"{req}>'
        else:
            value = "" if default is None else esc(json.dumps(default))
            control = f'<textarea name="{esc(name)}" rows="3">{value}</textarea>'
        out.append(f"<label>{label} {control} {hint}</label>")
    return "".join(out)


def values(schema: dict[str, Any] | None, form: dict[str, str]) -> dict[str, Any]:
    """The input object from submitted form values; empty fields are left out."""
    props = (schema or {}).get("properties")
    if not isinstance(props, dict) or not props:
        raw = form.get(JSON_FIELD, "").strip() or "{}"
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise FormError(f"input: not JSON ({exc})") from None
        if not isinstance(value, dict):
            raise FormError("input: must be a JSON object")
        return value
    result: dict[str, Any] = {}
    for name, prop in props.items():
        prop = prop if isinstance(prop, dict) else {}
        kind = _kind(prop)
        if kind == "boolean" and not isinstance(prop.get("enum"), list):
            result[name] = form.get(name) == "true"
            continue
        text = form.get(name, "")
        if text == "":
            continue
        if isinstance(prop.get("enum"), list) or kind not in ("string", "integer", "number"):
            try:
                result[name] = json.loads(text)
            except ValueError:
                raise FormError(f"{name}: not JSON") from None
        elif kind == "integer":
            try:
                result[name] = int(text)
            except ValueError:
                raise FormError(f"{name}: not a whole number: {text!r}") from None
        elif kind == "number":
            try:
                result[name] = float(text)
            except ValueError:
                raise FormError(f"{name}: not a number: {text!r}") from None
        else:
            result[name] = text
    return result
