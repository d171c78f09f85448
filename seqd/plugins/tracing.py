"""Tracers: plugins that receive lifecycle events.

Events are small tagged Structs. Fan-out is synchronous and cheap; a tracer that raises
is logged and skipped, never stopping the others or the run.

Events made for a run carry its trace: ``trace_id``, the event's own ``span_id`` and
its ``parent_span_id``, with ``start``/``end`` (RFC 3339 UTC), so an exporter can turn
them into spans (docs/observability.md, "Traces"). ``RunSpans`` brings, once a run has
ended, its own span and the spans of its journaled operations, built from storage the
same way ``runs.trace`` builds them.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import msgspec

from seqd.model.traces import Span


class TraceEvent(msgspec.Struct, tag_field="kind", kw_only=True):
    ts: str


class RunTransition(TraceEvent, tag="run.transition", kw_only=True):
    run_id: str
    task: str
    from_status: str | None
    to_status: str
    reason: str | None = None
    trace_id: str | None = None
    span_id: str | None = None
    """The run's span."""
    parent_span_id: str | None = None
    start: str | None = None
    """When the run's span began: the run's creation."""
    end: str | None = None
    """When the run's span ended: set on the transition to a final status."""


class StorageCall(TraceEvent, tag="storage.call", kw_only=True):
    """One call into the storage backend; ``rows`` read or written when known."""

    operation: str
    duration_s: float
    rows: int | None = None
    error: str | None = None
    run_id: str | None = None
    """The run the call was made for (writing or reading its record, log or journal),
    when it is one that is queued or running; the span ids are then set."""
    trace_id: str | None = None
    span_id: str | None = None
    parent_span_id: str | None = None
    """The run's span."""
    start: str | None = None
    end: str | None = None


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
    trace_id: str | None = None
    """Set for a run's calls: the run's trace, the call's span and its parent (the
    span of the journaled operation that made it, or the run's)."""
    span_id: str | None = None
    parent_span_id: str | None = None
    start: str | None = None
    end: str | None = None


class RunSpans(TraceEvent, tag="run.spans", kw_only=True):
    """A run has ended: its span (first) and the spans of its journaled operations."""

    run_id: str
    trace_id: str
    spans: list[Span]


AnyEvent = RunTransition | StorageCall | DaemonLifecycle | ToolCall | RunSpans


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
