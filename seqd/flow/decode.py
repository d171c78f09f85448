"""Decoding ``graph.json`` with problems a user can find: ``states.fetch.retry.factor``.

msgspec decodes strictly, but its error paths elide dictionary keys
(``$.states[...].retry``), which is useless in a graph keyed by state name. So the graph
is decoded shell by shell: the top level with its ``states`` emptied, then each state by
name (a parallel state's branches and a map's iterator the same way, recursively), and
every failure is reported at its full location with a plain message (``did you mean``
for a misspelt key). All problems are collected, not just the first.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final, TypeVar

import msgspec
from msgspec import inspect as mi

from seqd.flow.graph import (
    STATE_TYPES,
    Graph,
    MapState,
    ParallelState,
    StateBase,
    SubGraph,
    Undecoded,
)
from seqd.flow.template import child_location
from seqd.model.suggest import did_you_mean as suggest
from seqd.model.tasks import Problem

GRAPH_FILE: Final = "graph.json"
STATE_CLASSES: Final[dict[str, type[StateBase]]] = {
    str(cls.__struct_config__.tag): cls for cls in STATE_TYPES
}
_KINDS = {
    "float": "a number",
    "int": "an integer",
    "str": "a string",
    "bool": "true or false",
    "array": "a list",
    "object": "an object",
    "null": "null",
}
_SEGMENT = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\[\.\.\.\]")
T = TypeVar("T", bound=msgspec.Struct)


def where(location: str) -> str:
    """``states.fetch.next`` → ``graph.json: states.fetch.next``."""
    return f"{GRAPH_FILE}: {location}" if location else GRAPH_FILE


def load_graph(text: str, *, partial: bool = False) -> tuple[Graph | None, list[Problem]]:
    """Decode ``graph.json`` text; the graph is None when any part does not decode.
    With ``partial``, a state that does not decode is an ``Undecoded`` stand-in instead,
    so the analyzer can still check the rest in the same pass (the graph is then None
    only when its top level does not decode); such a graph must never run."""
    problems: list[Problem] = []
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                duplicates.append(key)
            out[key] = value
        return out

    def no_constant(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    try:
        raw = json.loads(text, object_pairs_hook=pairs, parse_constant=no_constant)
    except ValueError as exc:
        return None, [Problem(where=GRAPH_FILE, message=f"not valid JSON: {exc}")]
    except RecursionError:
        return None, [Problem(where=GRAPH_FILE, message="not valid JSON: nested too deeply")]
    for key in dict.fromkeys(duplicates):
        problems.append(
            Problem(
                where=GRAPH_FILE,
                message=f"the key {key!r} appears twice in one object; JSON keeps only "
                "the last one, so the first is silently lost",
            )
        )
    if not isinstance(raw, dict):
        problems.append(Problem(where=GRAPH_FILE, message="must be a JSON object"))
        return None, problems
    graph = _subgraph(raw, Graph, "", problems, partial)
    return (graph if partial or not problems else None), problems


def _subgraph(
    raw: dict[str, Any], cls: type[T], at: str, problems: list[Problem], partial: bool = False
) -> T | None:
    """Decode a graph or a branch: its own fields first, then each state by name."""
    states_raw = raw.get("states")
    shallow = dict(raw)
    if isinstance(states_raw, dict):
        shallow["states"] = {}
    obj = _convert(shallow, cls, at, problems)
    if not isinstance(states_raw, dict):
        return obj
    states: dict[str, Any] = {}
    ok = True
    states_at = child_location(at, "states")
    for name, state_raw in states_raw.items():
        state = _state(state_raw, child_location(states_at, name), problems)
        if state is None and partial:
            state = _stand_in(state_raw)
        if state is None:
            ok = False
        else:
            states[name] = state
    if obj is None or not ok:
        return None
    assert isinstance(obj, SubGraph)
    obj.states = states
    return obj


def _state(raw: Any, at: str, problems: list[Problem]) -> StateBase | None:
    if not isinstance(raw, dict):
        problems.append(Problem(where=where(at), message="a state must be an object"))
        return None
    kinds = ", ".join(STATE_CLASSES)
    kind = raw.get("type")
    if kind is None:
        problems.append(Problem(where=where(at), message=f"missing 'type' (one of {kinds})"))
        return None
    if not isinstance(kind, str) or kind not in STATE_CLASSES:
        hint = suggest(kind, STATE_CLASSES) if isinstance(kind, str) else ""
        problems.append(
            Problem(
                where=where(child_location(at, "type")),
                message=f"unknown state type {kind!r}{hint} (known: {kinds})",
            )
        )
        return None
    cls = STATE_CLASSES[kind]
    shallow = dict(raw)
    nested: list[tuple[str, dict[str, Any]]] = []
    if kind == "parallel" and isinstance(raw.get("branches"), list):
        shallow["branches"] = [
            _emptied(branch, f"{child_location(at, 'branches')}[{i}]", nested)
            for i, branch in enumerate(raw["branches"])
        ]
    if kind == "map" and isinstance(raw.get("iterator"), dict):
        shallow["iterator"] = _emptied(raw["iterator"], child_location(at, "iterator"), nested)
    state = _convert(shallow, cls, at, problems)
    subgraphs: list[SubGraph | None] = [
        _subgraph(body, SubGraph, body_at, problems) for body_at, body in nested
    ]
    if state is None or any(s is None for s in subgraphs):
        return None
    # Conversion succeeded, so every branch (and the iterator) had a states object.
    if isinstance(state, ParallelState):
        for branch, sub in zip(state.branches, subgraphs, strict=True):
            assert sub is not None
            branch.states = sub.states
    elif isinstance(state, MapState) and state.iterator is not None and subgraphs:
        assert subgraphs[0] is not None
        state.iterator.states = subgraphs[0].states
    return state


def _stand_in(raw: Any) -> Undecoded:
    """What can be read of an undecodable state: where its transitions go."""
    targets: list[tuple[str, str]] = []
    if isinstance(raw, dict):
        for field in ("next", "on_timeout", "default"):
            if isinstance(raw.get(field), str):
                targets.append((field, raw[field]))
        for listed in ("catch", "choices"):
            items = raw.get(listed)
            for i, item in enumerate(items if isinstance(items, list) else []):
                if isinstance(item, dict) and isinstance(item.get("next"), str):
                    targets.append((f"{listed}[{i}].next", item["next"]))
    return Undecoded(targets=targets)


def _emptied(body: Any, at: str, nested: list[tuple[str, dict[str, Any]]]) -> Any:
    """A branch with its states taken out (decoded on their own, at ``at``)."""
    if isinstance(body, dict) and isinstance(body.get("states"), dict):
        nested.append((at, body))
        return {**body, "states": {}}
    return body


def _convert(obj: dict[str, Any], cls: type[T], at: str, problems: list[Problem]) -> T | None:
    try:
        return msgspec.convert(obj, cls)
    except msgspec.ValidationError as exc:
        # msgspec stops at the first wrong field: look at each field to tell them all.
        problems.extend(_each_field(obj, cls, at) or [_problem(str(exc), cls, at, "")])
        return None


def _problem(error: str, cls: type[msgspec.Struct], at: str, prefix: str) -> Problem:
    """msgspec's ``error`` about the value at ``prefix`` inside ``cls`` (at ``at``)."""
    text, _, rest = error.partition(" - at `$")
    path = prefix + rest.rstrip("`")
    location = at + path if at else path.lstrip(".")
    return Problem(where=where(location), message=_friendly(text, cls, path))


def _each_field(obj: dict[str, Any], cls: type[msgspec.Struct], at: str) -> list[Problem]:
    """Every field's own problem: unknown keys, values of the wrong kind, missing
    required fields (none: the object is wrong only as a whole)."""
    fields = {f.encode_name: f for f in msgspec.structs.fields(cls)}
    tag = cls.__struct_config__.tag_field
    found: list[Problem] = []
    for key, value in obj.items():
        field = fields.get(key)
        if field is None:
            if key != tag:
                found.append(_problem(f"Object contains unknown field `{key}`", cls, at, ""))
            continue
        try:
            msgspec.convert(value, field.type)
        except msgspec.ValidationError as exc:
            found.append(_problem(str(exc), cls, at, f".{key}"))
    for name, field in fields.items():
        if field.required and name not in obj:
            found.append(_problem(f"Object missing required field `{name}`", cls, at, ""))
    return found


def _friendly(text: str, cls: type[msgspec.Struct], path: str) -> str:
    unknown = re.fullmatch(r"Object contains unknown field `(.+)`", text)
    if unknown:
        name = unknown.group(1)
        known = _fields_at(cls, path)
        if known:
            return f"unknown field {name!r}{suggest(name, known)} (known: {', '.join(known)})"
        return f"unknown field {name!r}"
    missing = re.fullmatch(r"Object missing required field `(.+)`", text)
    if missing:
        return f"missing required field {missing.group(1)!r}"
    expected = re.fullmatch(r"Expected `(.+)`, got `(.+)`", text)
    if expected:
        want = " or ".join(_KINDS.get(k, k) for k in expected.group(1).split(" | "))
        return f"expected {want}, got {_KINDS.get(expected.group(2), expected.group(2))}"
    enum = re.fullmatch(r"Invalid enum value (.+)", text)
    if enum:
        allowed = _literal_at(cls, path)
        return f"invalid value {enum.group(1)}" + (f" (one of {allowed})" if allowed else "")
    return text


def _type_at(cls: type[msgspec.Struct], path: str) -> mi.Type | None:
    """The msgspec type at ``path`` (``.retry``, ``.choices[0].when``) inside ``cls``."""
    current: mi.Type = mi.type_info(cls)
    for match in _SEGMENT.finditer(path):
        current = _unwrap(current, want_struct=match.group(1) is not None)
        if match.group(1) is not None:
            if not isinstance(current, mi.StructType):
                return None
            fields = {f.encode_name: f.type for f in current.fields}
            if match.group(1) not in fields:
                return None
            current = fields[match.group(1)]
        elif isinstance(current, mi.ListType):
            current = current.item_type
        elif isinstance(current, mi.DictType):
            current = current.value_type
        else:
            return None
    return current


def _unwrap(t: mi.Type, *, want_struct: bool) -> mi.Type:
    if isinstance(t, mi.UnionType):
        for member in t.types:
            if want_struct and isinstance(member, mi.StructType):
                return member
            if not want_struct and isinstance(member, mi.ListType | mi.DictType):
                return member
    return t


def _fields_at(cls: type[msgspec.Struct], path: str) -> list[str]:
    t = _type_at(cls, path)
    t = _unwrap(t, want_struct=True) if t is not None else None
    if not isinstance(t, mi.StructType):
        return []
    tag = t.cls.__struct_config__.tag_field
    return [f.encode_name for f in t.fields] + ([tag] if tag else [])


def _literal_at(cls: type[msgspec.Struct], path: str) -> str:
    t = _type_at(cls, path)
    if isinstance(t, mi.UnionType):
        t = next((m for m in t.types if isinstance(m, mi.LiteralType)), t)
    if isinstance(t, mi.LiteralType):
        return ", ".join(repr(v) for v in t.values)
    return ""
