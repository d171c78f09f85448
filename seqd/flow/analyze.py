"""The flow analyzer: what is wrong with a graph that decodes, said for a user.

``load_graph`` decodes ``graph.json`` (``seqd.flow.decode``); ``analyze`` checks what
decoding cannot: names, transitions within their scope, reachability, flows that can
never finish, loops with no way out, the shape of each state, numbers, paths and the
roots they may use, conditions, and — when the caller can say — tasks and tools the
graph refers to and the input schemas of those tasks. The catalog runs it without
``lookup_task`` / ``has_tool`` when a flow loads (structure only) and with them once
every task is known. Every problem is located (``graph.json: states.fetch.next``) and
every step is linear in the size of the graph.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from msgspec import UNSET

from seqd.flow.conditions import condition_problems
from seqd.flow.decode import GRAPH_FILE, load_graph, where
from seqd.flow.graph import (
    Acting,
    ChoiceState,
    Flowing,
    Graph,
    MapState,
    ParallelState,
    ToolState,
    WaitState,
)
from seqd.flow.references import TaskInfo, check_references
from seqd.flow.scopes import Scope, StateRef, collect, is_final, task_references, transitions
from seqd.flow.template import child_location
from seqd.model.rfc3339 import parse_rfc3339
from seqd.model.suggest import did_you_mean as suggest
from seqd.model.tasks import Problem

__all__ = [
    "GRAPH_FILE",
    "TaskInfo",
    "analyze",
    "load_graph",
    "referenced_tasks",
    "referenced_tools",
]

STATE_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
MAX_ATTEMPTS: Final = 1000


def referenced_tasks(graph: Graph) -> set[str]:
    """Every task the graph runs: task states, map tasks, compensations, in all scopes."""
    _, refs = collect(graph)
    return {name for ref in refs for _, name in task_references(ref.state)}


def referenced_tools(graph: Graph) -> set[str]:
    """Every tool the graph calls, in all scopes."""
    _, refs = collect(graph)
    return {ref.state.tool for ref in refs if isinstance(ref.state, ToolState)}


def analyze(
    graph: Graph,
    *,
    flow_name: str,
    lookup_task: Callable[[str], TaskInfo | None] | None = None,
    has_tool: Callable[[str], bool] | None = None,
) -> list[Problem]:
    """Every problem of ``graph`` (the flow task ``flow_name``); empty when it is sound."""
    scopes, refs = collect(graph)
    out = _Problems()
    owners = _names(refs, out)
    if graph.max_state_entries < 1:
        out.add("max_state_entries", "must be at least 1")
    for scope in scopes:
        _scope_flow(scope, owners, out)
    for ref in refs:
        _state_shape(ref, out)
    check_references(
        graph,
        scopes,
        refs,
        owners,
        out.items,
        flow_name=flow_name,
        lookup_task=lookup_task,
        has_tool=has_tool,
    )
    return out.items


class _Problems:
    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, location: str, message: str) -> None:
        self.items.append(Problem(where=where(location), message=message))


def _names(refs: list[StateRef], out: _Problems) -> dict[str, Scope]:
    """Check every state name; map each name to the scope that owns it (first wins)."""
    owners: dict[str, Scope] = {}
    first_at: dict[str, str] = {}
    for ref in refs:
        if not STATE_NAME.fullmatch(ref.name):
            out.add(
                ref.at,
                f"{ref.name!r} is not a valid state name: use letters, digits, '_' and '-', "
                "starting with a letter or '_', at most 64 characters",
            )
        if ref.name in owners:
            out.add(
                ref.at,
                f"state name {ref.name!r} is also used at {first_at[ref.name]}; names must be "
                f"unique across the whole graph so that $.steps.{ref.name} means one state",
            )
            continue
        owners[ref.name] = ref.scope
        first_at[ref.name] = ref.at
    return owners


def _scope_flow(scope: Scope, owners: dict[str, Scope], out: _Problems) -> None:
    """Start, transitions, reachability, finishing and loops within one scope."""
    states = scope.graph.states
    if not states:
        out.add(scope.location("states"), f"{scope.label} has no states")
        return
    start = scope.graph.start
    if start not in states:
        out.add(scope.location("start"), _missing_start(start, scope, owners))
    edges: dict[str, list[str]] = {}
    broken: set[str] = set()
    states_at = scope.location("states")
    for name, state in states.items():
        targets: list[str] = []
        for field, target in transitions(state):
            if target in states:
                targets.append(target)
            else:
                broken.add(name)
                out.add(
                    f"{child_location(states_at, name)}.{field}",
                    _missing_target(f"state {name!r}", target, scope, owners),
                )
        edges[name] = targets
    if start not in states:
        return
    reached = _reachable(start, edges)
    for name in states:
        if name not in reached:
            out.add(
                child_location(states_at, name),
                f"state {name!r} can never be reached from the start state {start!r}",
            )
    # A transition to a missing state is reported above and may be the missing way out.
    if not any(is_final(states[name]) or name in broken for name in reached):
        if scope.parent is None:
            message = (
                f"the flow can never finish: no state reachable from {start!r} has "
                "'end': true or is a succeed or fail state"
            )
        else:
            joiner = "map" if scope.label.startswith("the iterator") else "parallel"
            message = (
                f"{scope.label} never finishes (no state reachable from {start!r} ends it), "
                f"so the {joiner} state never joins"
            )
        out.add(scope.location("start"), message)
    for component in _strongly_connected([n for n in states if n in reached], edges):
        members = set(component)
        looping = len(component) > 1 or component[0] in edges[component[0]]
        if not looping or any(is_final(states[n]) for n in component):
            continue
        if any(t not in members for n in component for t in edges[n]) or members & broken:
            continue
        cycle = _cycle(component[0], members, edges)
        rest = [n for n in component if n not in cycle]
        shown = " → ".join([*cycle, cycle[0]])
        extra = f" (with {', '.join(rest)})" if rest else ""
        out.add(
            child_location(states_at, component[0]),
            f"states {shown}{extra} loop forever: none of them ends {scope.label} or "
            "leads out of the loop (only a failure or the state-entry cap would stop it)",
        )


def _missing_target(what: str, target: str, scope: Scope, owners: dict[str, Scope]) -> str:
    return _missing(
        f"{what} goes to {target!r}, which",
        target,
        scope,
        owners,
        "a transition cannot enter or leave a parallel branch or a map iterator",
    )


def _missing_start(start: str, scope: Scope, owners: dict[str, Scope]) -> str:
    return _missing(
        f"the start state {start!r}",
        start,
        scope,
        owners,
        "a scope starts at one of its own states",
    )


def _missing(subject: str, name: str, scope: Scope, owners: dict[str, Scope], rule: str) -> str:
    """Why ``name`` is not a state of ``scope``: it is in another scope (which ``rule``
    forbids), or it does not exist at all."""
    owner = owners.get(name)
    if owner is not None and owner is not scope:
        return f"{subject} is in {owner.label}, not in {scope.label}: {rule}"
    return f"{subject} does not exist{suggest(name, scope.graph.states)}"


def _reachable(start: str, edges: dict[str, list[str]]) -> set[str]:
    seen = {start}
    stack = [start]
    while stack:
        for target in edges[stack.pop()]:
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return seen


def _strongly_connected(nodes: list[str], edges: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm without recursion (a 10,000-state chain must not overflow)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    order = {n: i for i, n in enumerate(nodes)}
    components: list[list[str]] = []
    for root in nodes:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            targets = edges[node]
            while i < len(targets):
                target = targets[i]
                i += 1
                if target not in index:
                    work.append((node, i))
                    work.append((target, 0))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                if low[node] == index[node]:
                    component: list[str] = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(sorted(component, key=order.__getitem__))
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
    components.sort(key=lambda c: order[c[0]])
    return components


def _cycle(start: str, members: set[str], edges: dict[str, list[str]]) -> list[str]:
    """A shortest loop from ``start`` back to it, inside ``members``."""
    parent: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for target in edges[node]:
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parent[path[-1]])
                    return path[::-1]
                if target in members and target not in parent:
                    parent[target] = node
                    following.append(target)
        frontier = following
    return [start]


def _state_shape(ref: StateRef, out: _Problems) -> None:
    """Fields that must come together, or not at all, and numbers within range."""
    state, at = ref.state, ref.at

    def loc(field: str) -> str:
        return f"{at}.{field}"

    if isinstance(state, Flowing):
        if state.next is not None and state.end:
            out.add(at, f"state {ref.name!r} has both 'next' and 'end': true; keep one")
        elif state.next is None and not state.end:
            out.add(at, f"state {ref.name!r} needs 'next' (the state to go to) or 'end': true")
    if isinstance(state, Acting):
        _acting_numbers(state, loc, out)
    if isinstance(state, ChoiceState) and not state.choices:
        out.add(loc("choices"), f"choice state {ref.name!r} needs at least one choice")
    if isinstance(state, ChoiceState):
        for i, choice in enumerate(state.choices):
            out.items.extend(condition_problems(choice.when, where(loc(f"choices[{i}].when"))))
    if isinstance(state, ParallelState) and not state.branches:
        out.add(loc("branches"), f"parallel state {ref.name!r} needs at least one branch")
    if isinstance(state, MapState):
        if (state.task is None) == (state.iterator is None):
            out.add(at, f"map state {ref.name!r} needs exactly one of 'task' and 'iterator'")
        elif state.iterator is not None and state.input is not UNSET:
            out.add(
                loc("input"),
                "'input' only applies with 'task'; an iterator reads $.item and $.index itself",
            )
        if state.concurrency < 0:
            out.add(loc("concurrency"), "must be 0 (no limit) or more")
    if isinstance(state, WaitState):
        _wait(ref.name, state, loc, out)


def _acting_numbers(state: Acting, loc: Callable[[str], str], out: _Problems) -> None:
    if state.timeout_s is not None and state.timeout_s <= 0:
        out.add(loc("timeout_s"), "must be greater than 0")
    retry = state.retry
    if retry is not None:
        if not 1 <= retry.max_attempts <= MAX_ATTEMPTS:
            out.add(loc("retry.max_attempts"), f"must be between 1 and {MAX_ATTEMPTS}")
        if retry.backoff_s < 0:
            out.add(loc("retry.backoff_s"), "must be 0 or more")
        if retry.factor < 1:
            out.add(loc("retry.factor"), "must be at least 1 (delays never shrink)")
        if not 0 <= retry.jitter <= 1:
            out.add(loc("retry.jitter"), "must be between 0 and 1")
        if retry.max_backoff_s is not None and retry.max_backoff_s < retry.backoff_s:
            out.add(
                loc("retry.max_backoff_s"),
                f"must be at least backoff_s ({retry.backoff_s:g})",
            )
        _error_types(retry.errors, loc("retry.errors"), out)
    for i, catch in enumerate(state.catch):
        _error_types(catch.errors, loc(f"catch[{i}].errors"), out)


def _error_types(errors: list[str], at: str, out: _Problems) -> None:
    if not errors:
        out.add(at, "needs at least one error type ('*' for any)")
    for i, error in enumerate(errors):
        if not error.strip():
            out.add(f"{at}[{i}]", "an error type cannot be empty")


def _wait(name: str, state: WaitState, loc: Callable[[str], str], out: _Problems) -> None:
    given = [
        f
        for f, v in (("seconds", state.seconds), ("seconds_path", state.seconds_path))
        if v is not None
    ] + (["until"] if state.until is not None else [])
    if len(given) != 1:
        found = ", ".join(given) if given else "none"
        out.add(
            loc(given[1] if len(given) > 1 else "seconds"),
            f"wait state {name!r} needs exactly one of 'seconds', 'seconds_path' and "
            f"'until' (found: {found})",
        )
    if state.seconds is not None and state.seconds < 0:
        out.add(loc("seconds"), "must be 0 or more")
    if state.until is not None and not state.until.startswith("$"):
        try:
            parse_rfc3339(state.until)
        except ValueError as exc:
            out.add(loc("until"), str(exc))
