"""The ``otel`` tracer with the SDK's in-memory exporter: seqd's events become spans
with seqd's ids, parents, times, attributes and status, and a stuck exporter costs
dropped events, never a blocked ``on_event``."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from seqd_otel import exporter_name
from seqd_otel.tracer import OtelTracer

from seqd.model.runs import Run, RunError, Step
from seqd.model.traces import new_span_id, run_span_id, step_span_id
from seqd.plugins.tracing import DaemonLifecycle, RunSpans, StorageCall, ToolCall
from seqd.trace.spans import journal_spans, run_span

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER = "00f067aa0ba902b7"
T0 = "2026-01-02T03:04:05.000000Z"
T1 = "2026-01-02T03:04:05.250000Z"
T2 = "2026-01-02T03:04:06.000000Z"


def runs() -> tuple[Run, Run, list[Step]]:
    parent = Run(
        id="aaaaaaaaaaaaaaaaaaaaaaaa",
        task="etl",
        status="failed",
        created_at=T0,
        started_at=T0,
        finished_at=T2,
        root_id="aaaaaaaaaaaaaaaaaaaaaaaa",
        trace_id=TRACE,
        parent_span_id=CALLER,
        error=RunError(type="exception", message="boom"),
    )
    child = Run(
        id="bbbbbbbbbbbbbbbbbbbbbbbb",
        task="load",
        status="succeeded",
        created_at=T1,
        finished_at=T2,
        parent_id=parent.id,
        root_id=parent.id,
        trace_id=TRACE,
        parent_span_id=step_span_id(parent.id, "py.1.2"),
    )
    steps = [
        Step(seq=1, ts=T1, kind="step", key="py.1.1", name="fetch", status="failed",
             data={"started": T0, "error": {"type": "exception", "message": "boom"}}),
        Step(seq=2, ts=T1, kind="child", key="py.1.2", name="load", status="started",
             data={"child_id": child.id}),
        Step(seq=3, ts=T2, kind="child", key="py.1.2", name="load", status="succeeded",
             data={"child_id": child.id}),
    ]  # fmt: skip
    return parent, child, steps


def collect(exporter: InMemorySpanExporter, count: int) -> dict[str, ReadableSpan]:
    deadline = time.monotonic() + 10
    while len(exporter.get_finished_spans()) < count:
        assert time.monotonic() < deadline, exporter.get_finished_spans()
        time.sleep(0.01)
    return {span.name: span for span in exporter.get_finished_spans()}


def test_events_become_spans_with_seqd_ids_and_structure() -> None:
    exporter = InMemorySpanExporter()
    tracer = OtelTracer(SimpleSpanProcessor(exporter))
    tracer.describe("1.2.3", "node-a")
    parent, child, steps = runs()
    tool_span = new_span_id()
    tracer.on_event(DaemonLifecycle(ts=T0, phase="ready"))  # not a span: ignored
    tracer.on_event(
        ToolCall(ts=T1, tool="http.request", caller="rpc", params="{}", duration_s=0.1,
                 outcome="ok")  # an RPC call: no trace, ignored
    )  # fmt: skip
    tracer.on_event(
        RunSpans(ts=T2, run_id=parent.id, trace_id=TRACE,
                 spans=[run_span(parent), *journal_spans(parent, steps)])
    )  # fmt: skip
    tracer.on_event(RunSpans(ts=T2, run_id=child.id, trace_id=TRACE, spans=[run_span(child)]))
    tracer.on_event(
        ToolCall(ts=T1, tool="kv.set", caller="run", run_id=parent.id, task="etl", params="{}",
                 duration_s=0.1, outcome="validation", error="bad key", trace_id=TRACE,
                 span_id=tool_span, parent_span_id=step_span_id(parent.id, "py.1.1"),
                 start=T0, end=T1)
    )  # fmt: skip
    tracer.on_event(
        StorageCall(ts=T1, operation="append_steps", duration_s=0.01, rows=1,
                    run_id=parent.id, trace_id=TRACE, span_id=new_span_id(),
                    parent_span_id=run_span_id(parent.id), start=T0, end=T1)
    )  # fmt: skip
    spans = collect(exporter, 6)
    tracer.close(5)
    assert set(spans) == {
        "run etl",
        "step fetch",
        "child load",
        "run load",
        "tool.call kv.set",
        "storage append_steps",
    }
    assert {s.context.trace_id for s in spans.values()} == {int(TRACE, 16)}
    root = spans["run etl"]
    assert root.context.span_id == int(run_span_id(parent.id), 16)
    assert root.parent is not None and root.parent.span_id == int(CALLER, 16)
    assert root.status.status_code is StatusCode.ERROR
    assert root.attributes is not None and root.attributes["seqd.task"] == "etl"
    assert root.resource.attributes["service.name"] == "seqd"
    assert root.resource.attributes["service.version"] == "1.2.3"
    assert root.resource.attributes["service.instance.id"] == "node-a"
    assert root.start_time is not None and root.end_time is not None
    assert (root.end_time - root.start_time) == 1_000_000_000
    fetch = spans["step fetch"]
    assert fetch.parent is not None and fetch.parent.span_id == root.context.span_id
    assert fetch.status.status_code is StatusCode.ERROR
    assert fetch.start_time == root.start_time  # the step's recorded start
    step_of_child = spans["child load"]
    assert step_of_child.status.status_code is StatusCode.UNSET
    run_load = spans["run load"]
    assert run_load.parent is not None
    assert run_load.parent.span_id == step_of_child.context.span_id
    tool = spans["tool.call kv.set"]
    assert tool.context.span_id == int(tool_span, 16)
    assert tool.parent is not None and tool.parent.span_id == fetch.context.span_id
    assert tool.status.status_code is StatusCode.ERROR
    assert tool.attributes is not None and tool.attributes["seqd.tool.outcome"] == "validation"
    storage = spans["storage append_steps"]
    assert storage.parent is not None and storage.parent.span_id == root.context.span_id
    assert storage.attributes is not None and storage.attributes["seqd.storage.rows"] == 1
    assert tracer.dropped == 0 and tracer.exported == 6


class StuckExporter(InMemorySpanExporter):
    """An exporter that hangs until released, like an unreachable collector."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.entered = threading.Event()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.entered.set()
        self.release.wait()
        return super().export(spans)


def test_a_stuck_exporter_drops_and_counts_instead_of_blocking() -> None:
    exporter = StuckExporter()
    tracer = OtelTracer(SimpleSpanProcessor(exporter), max_queue=10)
    parent, _, _ = runs()
    event = RunSpans(ts=T2, run_id=parent.id, trace_id=TRACE, spans=[run_span(parent)])
    tracer.on_event(event)
    assert exporter.entered.wait(10)  # the plugin's thread is stuck in export now
    for _ in range(25):
        tracer.on_event(event)  # returns at once: the queue takes 10, the rest drop
    assert tracer.dropped == 15
    exporter.release.set()
    tracer.close(10)
    assert len(exporter.get_finished_spans()) == 11


def test_the_plugin_is_off_until_opentelemetry_is_configured() -> None:
    assert exporter_name({}) is None
    assert exporter_name({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}) == "otlp"
    assert exporter_name({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c/v1/traces"}) == "otlp"
    assert exporter_name({"OTEL_TRACES_EXPORTER": "console"}) == "console"
    off = {"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "x"}
    assert exporter_name(off) is None
    assert exporter_name({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}) is None
    assert exporter_name({"OTEL_TRACES_EXPORTER": "zipkin"}) is None


def test_storage_spans_can_be_left_out() -> None:
    tracer = OtelTracer(SimpleSpanProcessor(InMemorySpanExporter()), storage_spans=False)
    try:
        assert StorageCall not in tracer.events and RunSpans in tracer.events
    finally:
        tracer.close(5)
