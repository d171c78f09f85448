"""The ``otel`` tracer: seqd's events in, OpenTelemetry spans out, nothing on the loop.

``on_event`` only appends the event to a bounded queue (a full queue drops it and
counts it) and wakes the plugin's thread; that thread turns events into spans
(``convert``) and hands them to the SDK's ``BatchSpanProcessor``, whose own thread
batches and exports them. A slow or unreachable collector therefore costs the daemon
dropped spans, never a slower run or a blocked loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)

from seqd.plugins.tracing import RunSpans, StorageCall, ToolCall, TraceEvent
from seqd_otel.convert import from_event
from seqd_otel.resource import default_resource, described

logger = logging.getLogger(__name__)

MAX_QUEUE = 20_000
"""Events waiting for the plugin's thread; past it they are dropped (and counted)."""


def make_exporter(name: str) -> SpanExporter:
    """The exporter ``OTEL_TRACES_EXPORTER`` names; it reads its own settings
    (``OTEL_EXPORTER_OTLP_*``) from the environment."""
    if name == "console":
        return ConsoleSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def make_processor(name: str) -> SpanProcessor:
    """A ``BatchSpanProcessor`` (sized by ``OTEL_BSP_*``) over the named exporter."""
    return BatchSpanProcessor(make_exporter(name))


class OtelTracer:
    name = "otel"
    events: tuple[type[TraceEvent], ...] = (RunSpans, ToolCall, StorageCall)

    def __init__(
        self,
        processor: SpanProcessor,
        resource: Resource | None = None,
        max_queue: int = MAX_QUEUE,
        storage_spans: bool = True,
    ) -> None:
        if not storage_spans:
            # Not asked for: the daemon then does not even build storage-call events.
            self.events = (RunSpans, ToolCall)
        self.processor = processor
        self.resource = resource or default_resource()
        self._max_queue = max_queue
        self._queue: deque[TraceEvent] = deque()
        self._wake = threading.Event()
        self._stopping = False
        self.dropped = 0
        """Events dropped because the queue was full."""
        self.exported = 0
        """Spans handed to the processor."""
        self._thread = threading.Thread(target=self._work, name="seqd-otel", daemon=True)
        self._thread.start()

    def describe(self, version: str, node: str) -> None:
        """Set the resource's ``service.version`` and ``service.instance.id`` to the
        daemon's version and node (at start-up)."""
        self.resource = described(self.resource, version, node)

    def on_event(self, event: TraceEvent) -> None:
        if isinstance(event, ToolCall | StorageCall) and event.trace_id is None:
            return  # not made for a run: no trace to put it in
        if len(self._queue) >= self._max_queue:
            self.dropped += 1
            return
        self._queue.append(event)
        self._wake.set()

    def _work(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            while self._queue:
                event = self._queue.popleft()
                try:
                    spans = from_event(event, self.resource)
                except Exception:
                    logger.exception("OpenTelemetry: cannot convert %s", type(event).__name__)
                    continue
                for span in spans:
                    self.processor.on_end(span)
                    self.exported += 1
            if self._stopping:
                return

    def close(self, timeout_s: float) -> None:
        """Convert what is queued, send it within ``timeout_s``, stop (blocking: call
        it from a thread)."""
        deadline = time.monotonic() + timeout_s
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            logger.warning("OpenTelemetry: %d event(s) not converted at stop", len(self._queue))
        remaining = max(0.0, deadline - time.monotonic())
        self.processor.force_flush(int(remaining * 1000))
        self.processor.shutdown()
