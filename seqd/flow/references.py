"""What a graph refers to: paths into the flow's data, tasks, tools, input schemas.

Part of the analyzer (``seqd.flow.analyze``): each path is checked where it is used
(which roots exist there, which states are visible), each task and tool the graph names
is looked up when the caller can, and a state's ``input`` object is compared with the
child task's input schema as far as literal values allow.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from msgspec import UNSET

from seqd.flow.conditions import condition_paths, is_json_type
from seqd.flow.decode import where
from seqd.flow.graph import (
    Acting,
    ChoiceState,
    FailState,
    Graph,
    MapState,
    SucceedState,
    TaskState,
    ToolState,
    WaitState,
)
from seqd.flow.paths import Path, PathError, parse_path
from seqd.flow.scopes import Scope, StateRef, task_references
from seqd.flow.template import (
    LITERAL,
    child_location,
    interpolation_paths,
    is_path_text,
    template_paths,
)
from seqd.model.suggest import did_you_mean as suggest
from seqd.model.tasks import TASK_NAME_PATTERN, Problem

BASE_ROOTS: Final = ("input", "steps", "flow")
ITEM_ROOTS: Final = ("item", "index")
ALL_ROOTS: Final = (*BASE_ROOTS, *ITEM_ROOTS, "result", "error")
_ONLY = {
    "item": "exists only inside a map iteration (a map's 'input' or its iterator)",
    "index": "exists only inside a map iteration (a map's 'input' or its iterator)",
    "result": "exists only in a state's 'output' and in 'compensate.input'",
    "error": "exists only in 'fallback'",
}
_FIELDS = {
    "flow": ("run_id", "task", "attempt"),
    "error": ("type", "message", "details"),
}
STEP_FIELDS: Final = ("status", "output", "error")
_TASK_NAME = re.compile(TASK_NAME_PATTERN)

Sink = Callable[[str, str], None]


@dataclass(frozen=True)
class TaskInfo:
    """What the analyzer needs to know of a task a flow refers to."""

    type: str | None
    valid: bool
    inputs: dict[str, Any] | None
    """JSON Schema of its input, if known."""
    flow_refs: frozenset[str] = frozenset()
    """Tasks this task runs, if it is a flow (directly or transitively: both work)."""
    problems: tuple[str, ...] = ()
    """Why it is not valid (``"config.json: type: unknown task type 'x'"``...)."""


def check_references(
    graph: Graph,
    scopes: list[Scope],
    refs: list[StateRef],
    owners: dict[str, Scope],
    problems: list[Problem],
    *,
    flow_name: str,
    lookup_task: Callable[[str], TaskInfo | None] | None,
    has_tool: Callable[[str], bool] | None,
) -> None:
    """Append the problems of every path, task and tool reference of ``graph``."""

    def add(location: str, message: str) -> None:
        problems.append(Problem(where=where(location), message=message))

    for scope in scopes:
        roots: tuple[str, ...] = (*BASE_ROOTS, *(ITEM_ROOTS if scope.in_map else ()))
        for location, found in template_paths(scope.graph.output, scope.location("output")):
            _check(found, location, scope, roots, owners, add)
    for ref in refs:
        base = (*BASE_ROOTS, *(ITEM_ROOTS if ref.scope.in_map else ()))
        for location, found, extra in _state_paths(ref):
            _check(found, location, ref.scope, (*base, *extra), owners, add)
    _tasks(refs, flow_name, lookup_task, add)
    if has_tool is not None:
        for ref in refs:
            if isinstance(ref.state, ToolState) and not has_tool(ref.state.tool):
                add(f"{ref.at}.tool", f"unknown tool {ref.state.tool!r}")


def _state_paths(ref: StateRef) -> Iterator[tuple[str, Path | PathError, tuple[str, ...]]]:
    """``(location, path, roots added there)`` for every path in one state."""
    state, at = ref.state, ref.at

    def template(field: str, value: Any, extra: tuple[str, ...] = ()) -> Iterator[Any]:
        if value is not UNSET:
            for location, found in template_paths(value, f"{at}.{field}"):
                yield location, found, extra

    def path_field(field: str, text: str) -> Iterator[Any]:
        try:
            yield f"{at}.{field}", parse_path(text), ()
        except PathError as exc:
            yield f"{at}.{field}", exc, ()

    if isinstance(state, TaskState):
        yield from template("input", state.input)
    if isinstance(state, ToolState):
        yield from template("params", state.params)
    if isinstance(state, MapState):
        yield from path_field("items", state.items)
        yield from template("input", state.input, ITEM_ROOTS)
    if isinstance(state, Acting):
        yield from template("output", state.output, ("result",))
        yield from template("fallback", state.fallback, ("error",))
        if state.compensate is not None:
            yield from template("compensate.input", state.compensate.input, ("result",))
    if isinstance(state, ChoiceState):
        for i, choice in enumerate(state.choices):
            for location, found in condition_paths(choice.when, f"{at}.choices[{i}].when"):
                if isinstance(found, Path):  # bad ones are condition_problems' to report
                    yield location, found, ()
    if isinstance(state, WaitState):
        if state.seconds_path is not None:
            yield from path_field("seconds_path", state.seconds_path)
        if state.until is not None and is_path_text(state.until):
            yield from path_field("until", state.until)
    if isinstance(state, SucceedState):
        yield from template("output", state.output)
    if isinstance(state, FailState):
        for found in interpolation_paths(state.message):
            yield f"{at}.message", found, ()


def _check(
    found: Path | PathError,
    location: str,
    scope: Scope,
    allowed: tuple[str, ...],
    owners: dict[str, Scope],
    add: Sink,
) -> None:
    if isinstance(found, PathError):
        add(location, f"bad path: {found}")
        return
    path, segs = found, found.segments
    root = path.root
    if root not in allowed:
        if root in _ONLY:
            add(location, f"{path.text}: $.{root} {_ONLY[root]}")
        else:
            roots = ", ".join(f"$.{r}" for r in allowed)
            add(
                location,
                f"{path.text}: unknown root {root!r}{suggest(root, ALL_ROOTS)} "
                f"(here a path starts with {roots})",
            )
        return
    if len(segs) < 2:
        return
    second = segs[1]
    if root == "steps":
        if not isinstance(second, str):
            add(location, f"{path.text}: after $.steps comes a state name, not an index")
            return
        owner = owners.get(second)
        if owner is None:
            add(location, f"{path.text}: there is no state {second!r}{suggest(second, owners)}")
        elif not owner.encloses(scope):
            add(
                location,
                f"{path.text}: state {second!r} is in {owner.label}, which is not visible "
                f"here ({scope.label}); a state sees the states of its own scope and of "
                "the scopes around it",
            )
        elif len(segs) > 2 and segs[2] not in STEP_FIELDS:
            third = segs[2]
            hint = suggest(third, STEP_FIELDS) if isinstance(third, str) else ""
            add(
                location,
                f"{path.text}: a step has only 'status', 'output' and 'error', not {third!r}{hint}",
            )
    elif root in _FIELDS and second not in _FIELDS[root]:
        names = ", ".join(repr(f) for f in _FIELDS[root])
        hint = suggest(second, _FIELDS[root]) if isinstance(second, str) else ""
        add(location, f"{path.text}: $.{root} has only {names}, not {second!r}{hint}")
    elif root == "index":
        add(location, f"{path.text}: $.index is a number; it has no parts")


def _tasks(
    refs: list[StateRef],
    flow_name: str,
    lookup_task: Callable[[str], TaskInfo | None] | None,
    add: Sink,
) -> None:
    infos: dict[str, TaskInfo | None] = {}
    chains: dict[str, list[str] | None] = {}

    def info(name: str) -> TaskInfo | None:
        if name not in infos:
            assert lookup_task is not None
            infos[name] = lookup_task(name)
        return infos[name]

    for ref in refs:
        for field, task in task_references(ref.state):
            at = f"{ref.at}.{field}"
            if not _TASK_NAME.fullmatch(task):
                add(
                    at,
                    f"{task!r} is not a valid task name (lowercase letters, digits, '_', "
                    "'.' and '-', starting with a letter or digit)",
                )
                continue
            if task == flow_name:
                add(at, f"the flow runs itself: state {ref.name!r} runs {task!r}, this flow")
                continue
            if lookup_task is None:
                continue
            child = info(task)
            if child is None:
                add(at, f"unknown task {task!r}")
                continue
            if not child.valid:
                why = f": {'; '.join(child.problems)}" if child.problems else ""
                add(at, f"task {task!r} is not valid{why}")
            if task not in chains:
                chains[task] = _chain(task, flow_name, info)
            chain = chains[task]
            if chain:
                add(
                    at,
                    f"the flow runs itself: state {ref.name!r} runs "
                    + ", which runs ".join(repr(n) for n in chain)
                    + " (this flow)",
                )
            if field == "task" and child.inputs is not None:
                _inputs(ref, task, child.inputs, add)


def _chain(start: str, target: str, info: Callable[[str], TaskInfo | None]) -> list[str] | None:
    """The tasks from ``start`` to ``target`` along flow references, if it is reached."""
    parent: dict[str, str | None] = {start: None}
    queue = [start]
    for node in queue:
        child = info(node)
        for ref in sorted(child.flow_refs) if child is not None else ():
            if ref == target:
                chain = [ref, node]
                step = parent[node]
                while step is not None:
                    chain.append(step)
                    step = parent[step]
                return chain[::-1]
            if ref not in parent:
                parent[ref] = node
                queue.append(ref)
    return None


def _inputs(ref: StateRef, task: str, schema: dict[str, Any], add: Sink) -> None:
    """Compare a state's input object with the child's input schema, where literal."""
    state = ref.state
    template = state.input if isinstance(state, TaskState | MapState) else UNSET
    if template is UNSET:
        if isinstance(state, MapState):
            return  # each item is the input: unknown here
        template = {}
    at = f"{ref.at}.input"
    literal = False
    if isinstance(template, dict) and set(template) == {LITERAL}:
        template, literal = template[LITERAL], True
    if not isinstance(template, dict):
        return
    props = schema.get("properties")
    props = props if isinstance(props, dict) else {}
    required = schema.get("required")
    for name in required if isinstance(required, list) else ():
        if isinstance(name, str) and name not in template:
            add(at, f"task {task!r} requires the input {name!r}, which this state does not pass")
    closed = schema.get("additionalProperties") is False
    for key, value in template.items():
        if key not in props:
            if closed:
                known = ", ".join(props) or "none"
                add(
                    child_location(at, key),
                    f"task {task!r} has no input {key!r}{suggest(key, props)} "
                    f"(its inputs: {known})",
                )
            continue
        prop = props[key]
        wanted = prop.get("type") if isinstance(prop, dict) else None
        names = [wanted] if isinstance(wanted, str) else wanted
        if not isinstance(names, list):
            continue
        kind = _literal_kind(value, literal)
        if kind is not None and not any(isinstance(n, str) and _fits(value, n) for n in names):
            add(
                child_location(at, key),
                f"task {task!r} expects {key!r} to be {' or '.join(map(str, names))}, "
                f"but this state passes {kind} {_short(value)}",
            )


def _literal_kind(value: Any, literal: bool) -> str | None:
    """The JSON kind a template value renders to, when it is known without data."""
    if isinstance(value, str):
        if literal:
            return "a string"
        if is_path_text(value):
            return None
        return "a string"
    if isinstance(value, dict):
        if not literal and LITERAL in value:
            return _literal_kind(value[LITERAL], True) if len(value) == 1 else None
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if value is None:
        return "null"
    return None


def _fits(value: Any, name: str) -> bool:
    if isinstance(value, dict) and set(value) == {LITERAL}:
        value = value[LITERAL]
    return is_json_type(value, name)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
