"""The scopes of a graph and the transitions of its states.

A scope is a set of states that jump to each other: the top level, each branch of a
parallel state, the iterator of a map state. Transitions never cross a scope's border,
a branch sees the states of the scopes around it (``$.steps.<outer state>``) but not
those of its siblings, and a map iteration adds ``$.item`` / ``$.index``. The analyzer
and the executor both need this shape, so it lives here once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from seqd.flow.graph import (
    Acting,
    ChoiceState,
    FailState,
    Flowing,
    Graph,
    MapState,
    ParallelState,
    StateBase,
    SubGraph,
    SucceedState,
    TaskState,
    Undecoded,
)
from seqd.flow.template import child_location


@dataclass(eq=False)
class Scope:
    """One scope: its graph, where it is in graph.json and what encloses it."""

    graph: SubGraph
    at: str
    """Location of the scope's object: ``""`` (top), ``states.par.branches[1]``..."""
    parent: Scope | None
    label: str
    """How a message names it: ``the flow``, ``branches[1] of parallel state 'par'``."""
    in_map: bool
    """Inside a map iteration (``$.item`` and ``$.index`` exist)."""

    def encloses(self, other: Scope) -> bool:
        """Whether ``other`` is this scope or one inside it."""
        scope: Scope | None = other
        while scope is not None:
            if scope is self:
                return True
            scope = scope.parent
        return False

    def location(self, field: str) -> str:
        return child_location(self.at, field)


@dataclass(frozen=True, eq=False)
class StateRef:
    """A state where it stands: its scope, name and location (``states.par...x``)."""

    scope: Scope
    name: str
    state: StateBase
    at: str


def collect(graph: Graph) -> tuple[list[Scope], list[StateRef]]:
    """Every scope and every state of ``graph``, outer before inner, in file order."""
    top = Scope(graph, "", None, "the flow", False)
    scopes: list[Scope] = []
    refs: list[StateRef] = []
    pending = [top]
    while pending:
        scope = pending.pop()
        scopes.append(scope)
        inner: list[Scope] = []
        states_at = scope.location("states")
        for name, state in scope.graph.states.items():
            at = child_location(states_at, name)
            refs.append(StateRef(scope, name, state, at))
            inner.extend(_inner_scopes(scope, name, state, at))
        pending.extend(reversed(inner))
    return scopes, refs


def _inner_scopes(scope: Scope, name: str, state: StateBase, at: str) -> Iterator[Scope]:
    if isinstance(state, ParallelState):
        for index, branch in enumerate(state.branches):
            yield Scope(
                branch,
                f"{child_location(at, 'branches')}[{index}]",
                scope,
                f"branches[{index}] of parallel state {name!r}",
                scope.in_map,
            )
    elif isinstance(state, MapState) and state.iterator is not None:
        yield Scope(
            state.iterator,
            child_location(at, "iterator"),
            scope,
            f"the iterator of map state {name!r}",
            True,
        )


def transitions(state: StateBase) -> list[tuple[str, str]]:
    """``(field, target)`` for every state ``state`` may go to next."""
    out: list[tuple[str, str]] = []
    if isinstance(state, Undecoded):
        return list(state.targets)
    if isinstance(state, Flowing) and state.next is not None:
        out.append(("next", state.next))
    if isinstance(state, Acting):
        out.extend((f"catch[{i}].next", c.next) for i, c in enumerate(state.catch))
        if state.on_timeout is not None:
            out.append(("on_timeout", state.on_timeout))
    if isinstance(state, ChoiceState):
        out.extend((f"choices[{i}].next", c.next) for i, c in enumerate(state.choices))
        if state.default is not None:
            out.append(("default", state.default))
    return out


def is_final(state: StateBase) -> bool:
    """Whether the scope can finish in ``state`` (``end``, succeed or fail; maybe, for a
    state that did not decode)."""
    if isinstance(state, SucceedState | FailState | Undecoded):
        return True
    return isinstance(state, Flowing) and state.end


def task_references(state: StateBase) -> list[tuple[str, str]]:
    """``(field, task name)`` for every task ``state`` runs (itself, per item, to undo)."""
    out: list[tuple[str, str]] = []
    if isinstance(state, TaskState):
        out.append(("task", state.task))
    if isinstance(state, MapState) and state.task is not None:
        out.append(("task", state.task))
    if isinstance(state, Acting) and state.compensate is not None:
        out.append(("compensate.task", state.compensate.task))
    return out
