"""Tracers: plugins that receive lifecycle events.

Events are small tagged Structs. Fan-out is synchronous and cheap; a tracer that raises
is logged and skipped, never stopping the others or the run.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import msgspec


class TraceEvent(msgspec.Struct, tag_field="kind", kw_only=True):
    ts: str


class RunTransition(TraceEvent, tag="run.transition", kw_only=True):
    run_id: str
    task: str
    from_status: str | None
    to_status: str
    reason: str | None = None


class StorageCall(TraceEvent, tag="storage.call", kw_only=True):
    """One call into the storage backend; ``rows`` read or written when known."""

    operation: str
    duration_s: float
    rows: int | None = None
    error: str | None = None


class DaemonLifecycle(TraceEvent, tag="daemon.lifecycle", kw_only=True):
    phase: str
    details: dict[str, Any] = {}


class ToolCall(TraceEvent, tag="tool.call", kw_only=True):
    """One tool call: who made it, a short summary of its params (secrets redacted),
    how long it took and how it ended (``ok`` or the error type)."""

    tool: str
    caller: str
    """``rpc`` or ``run``."""
    run_id: str | None = None
    task: str | None = None
    uid: int | None = None
    params: str
    duration_s: float
    outcome: str
    error: str | None = None


AnyEvent = RunTransition | StorageCall | DaemonLifecycle | ToolCall


@runtime_checkable
class Tracer(Protocol):
    """``name`` and ``on_event``. A tracer may also set ``events``, a tuple of the
    event classes it wants (say ``(RunTransition,)``); without it, it gets every event.
    Events no tracer wants are not even built (a storage call is then only counted)."""

    name: str

    def on_event(self, event: TraceEvent) -> None:
        """Receive one event. Must be quick: hand slow work to a thread or queue."""


def wanted(tracer: Tracer, event_type: type[TraceEvent]) -> bool:
    """Whether ``tracer`` asked for ``event_type`` (no ``events`` attribute: all)."""
    events = getattr(tracer, "events", None)
    return events is None or event_type in events
