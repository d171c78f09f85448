"""seqd's trace events as OpenTelemetry ``ReadableSpan`` objects.

seqd names its spans itself (trace and span ids derived from runs and journal keys,
``seqd.model.traces``), so spans are not made with the SDK's ``Tracer`` — which would
draw new ids — but built whole, with seqd's ids, times and outcome, and handed to a
span processor as finished spans. Runs in the exporter's thread, never on the loop.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.status import Status, StatusCode

from seqd.model.traces import Span
from seqd.plugins.tracing import RunSpans, StorageCall, ToolCall, TraceEvent

SCOPE = InstrumentationScope("seqd")
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
AttributeValue = str | bool | int | float


def _ns(text: str | None) -> int | None:
    if not text:
        return None
    return int(datetime.fromisoformat(text).timestamp() * 1_000_000) * 1000


def _context(trace_id: str, span_id: str) -> SpanContext:
    return SpanContext(int(trace_id, 16), int(span_id, 16), False, _SAMPLED)


def _attributes(values: dict[str, Any]) -> dict[str, AttributeValue]:
    """Attributes OpenTelemetry accepts: scalars only, None left out."""
    return {k: v for k, v in values.items() if isinstance(v, AttributeValue)}


def _span(
    *,
    name: str,
    trace_id: str,
    span_id: str,
    parent_span_id: str | None,
    start: str | None,
    end: str | None,
    error: str | None,
    attributes: dict[str, Any],
    resource: Resource,
    kind: SpanKind = SpanKind.INTERNAL,
) -> ReadableSpan:
    start_ns = _ns(start)
    end_ns = _ns(end) or start_ns
    return ReadableSpan(
        name=name,
        context=_context(trace_id, span_id),
        parent=_context(trace_id, parent_span_id) if parent_span_id else None,
        resource=resource,
        attributes=_attributes(attributes),
        kind=kind,
        status=Status(StatusCode.ERROR, error) if error is not None else Status(StatusCode.UNSET),
        start_time=start_ns,
        end_time=end_ns,
        instrumentation_scope=SCOPE,
    )


def from_span(span: Span, resource: Resource) -> ReadableSpan:
    """A run's span or a journaled operation's."""
    return _span(
        name=span.name,
        trace_id=span.trace_id,
        span_id=span.span_id,
        parent_span_id=span.parent_span_id,
        start=span.start,
        end=span.end,
        error=(span.error or span.outcome) if span.failed else None,
        attributes={**span.attributes, "seqd.span.kind": span.kind, "seqd.outcome": span.outcome},
        resource=resource,
    )


def from_event(event: TraceEvent, resource: Resource) -> list[ReadableSpan]:
    """The spans an event stands for: none for events outside any run's trace."""
    if isinstance(event, RunSpans):
        return [from_span(span, resource) for span in event.spans]
    if isinstance(event, ToolCall) and event.trace_id and event.span_id:
        failed = event.outcome != "ok"
        return [
            _span(
                name=f"tool.call {event.tool}",
                trace_id=event.trace_id,
                span_id=event.span_id,
                parent_span_id=event.parent_span_id,
                start=event.start,
                end=event.end,
                error=(event.error or event.outcome) if failed else None,
                attributes={
                    "seqd.tool": event.tool,
                    "seqd.tool.outcome": event.outcome,
                    "seqd.tool.params": event.params,
                    "seqd.run.id": event.run_id,
                    "seqd.task": event.task,
                },
                resource=resource,
                kind=SpanKind.CLIENT,
            )
        ]
    if isinstance(event, StorageCall) and event.trace_id and event.span_id:
        return [
            _span(
                name=f"storage {event.operation}",
                trace_id=event.trace_id,
                span_id=event.span_id,
                parent_span_id=event.parent_span_id,
                start=event.start,
                end=event.end,
                error=event.error,
                attributes={
                    "db.operation.name": event.operation,
                    "seqd.storage.rows": event.rows,
                    "seqd.run.id": event.run_id,
                },
                resource=resource,
                kind=SpanKind.CLIENT,
            )
        ]
    return []
