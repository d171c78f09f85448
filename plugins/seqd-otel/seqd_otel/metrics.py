"""seqd's metrics as OpenTelemetry metrics, pushed over OTLP at a fixed interval.

The daemon already keeps every metric (``seqd.observe``); re-recording them through
the SDK's instruments would count everything twice and cannot carry histograms whose
buckets were filled elsewhere. So the plugin reads the daemon's registry
(``DaemonInfo.metrics``, ``MetricsReader.families_threadsafe``) from its own thread
every ``OTEL_METRIC_EXPORT_INTERVAL`` milliseconds, builds the SDK's ``MetricsData``
from the reading and hands it to the exporter: counters become cumulative monotonic
sums, gauges gauges, histograms cumulative explicit-bucket histograms. The event loop
only takes the copy it takes for a Prometheus scrape.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    ConsoleMetricExporter,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricExporter,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from seqd.model.metrics import Family, Series

logger = logging.getLogger(__name__)

SCOPE = InstrumentationScope("seqd")
INTERVAL_MS = 60_000
"""``OTEL_METRIC_EXPORT_INTERVAL``'s default, as the SDK's periodic reader has it."""
UNITS = {"seconds": "s", "bytes": "By"}
"""OpenTelemetry's unit (UCUM) for seqd's metric name suffixes."""
TIMEOUT_MS = 30_000
"""``OTEL_METRIC_EXPORT_TIMEOUT``'s default."""


def make_metric_exporter(name: str) -> MetricExporter:
    """The exporter ``OTEL_METRICS_EXPORTER`` names; it reads its own settings
    (``OTEL_EXPORTER_OTLP_*``, ``OTEL_EXPORTER_OTLP_METRICS_*``) from the environment."""
    if name == "console":
        return ConsoleMetricExporter()
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    return OTLPMetricExporter()


def env_ms(env: Mapping[str, str], name: str, default: int) -> int:
    """A positive millisecond setting; a wrong value is logged and the default kept."""
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        logger.warning("OpenTelemetry: %s=%r is not positive; using %d", name, text, default)
        return default
    return value


def _per_bucket(series: Series) -> list[int]:
    """OTLP's bucket counts (one per bound, plus the overflow bucket) from seqd's
    cumulative ones."""
    cumulative = series.buckets or []
    counts = [b - a for a, b in zip([0, *cumulative], cumulative, strict=False)]
    counts.append((series.count or 0) - (cumulative[-1] if cumulative else 0))
    return counts


def to_metric(family: Family, start_ns: int, now_ns: int) -> Metric:
    """One family as an OpenTelemetry metric, every series a data point."""
    data: Any
    if family.kind == "histogram":
        bounds = list(family.bounds or [])
        data = Histogram(
            data_points=[
                HistogramDataPoint(
                    attributes=dict(s.labels),
                    start_time_unix_nano=start_ns,
                    time_unix_nano=now_ns,
                    count=s.count or 0,
                    sum=s.sum or 0.0,
                    bucket_counts=_per_bucket(s),
                    explicit_bounds=bounds,
                    # seqd keeps no minimum or maximum: left unset on the wire.
                    min=None,  # type: ignore[arg-type]
                    max=None,  # type: ignore[arg-type]
                )
                for s in family.series
            ],
            aggregation_temporality=AggregationTemporality.CUMULATIVE,
        )
    else:
        points = [
            NumberDataPoint(
                attributes=dict(s.labels),
                start_time_unix_nano=start_ns,
                time_unix_nano=now_ns,
                value=s.value or 0.0,
            )
            for s in family.series
        ]
        if family.kind == "counter":
            data = Sum(
                data_points=points,
                aggregation_temporality=AggregationTemporality.CUMULATIVE,
                is_monotonic=True,
            )
        else:
            data = Gauge(data_points=points)
    unit = UNITS.get(family.name.rsplit("_", 1)[-1], "")
    return Metric(name=family.name, description=family.help, unit=unit, data=data)


def to_metrics_data(
    families: list[Family], resource: Resource, start_ns: int, now_ns: int
) -> MetricsData:
    """A whole reading, ready for ``MetricExporter.export``."""
    metrics = [to_metric(f, start_ns, now_ns) for f in families if f.series]
    scope = ScopeMetrics(scope=SCOPE, metrics=metrics, schema_url="")
    return MetricsData(
        resource_metrics=[ResourceMetrics(resource=resource, scope_metrics=[scope], schema_url="")]
    )


class MetricsPusher:
    """A thread that reads the daemon's metrics and exports them every interval, and
    once more at stop so the last counts are not lost."""

    def __init__(
        self,
        read: Callable[[], list[Family]],
        exporter: MetricExporter,
        resource: Resource,
        interval_ms: int = INTERVAL_MS,
        timeout_ms: int = TIMEOUT_MS,
    ) -> None:
        self._read = read
        self.exporter = exporter
        self.resource = resource
        self._interval_s = interval_ms / 1000
        self._timeout_ms = timeout_ms
        self._start_ns = time.time_ns()
        self._stop = threading.Event()
        self.pushed = 0
        """Readings the exporter accepted."""
        self.failed = 0
        """Readings not sent: the loop did not answer, or the exporter failed."""
        self._thread = threading.Thread(target=self._work, name="seqd-otel-metrics", daemon=True)
        self._thread.start()

    def push(self) -> bool:
        """Read and export once (on the pusher's thread, or at stop)."""
        try:
            families = self._read()
            data = to_metrics_data(families, self.resource, self._start_ns, time.time_ns())
            result = self.exporter.export(data, timeout_millis=self._timeout_ms)
        except Exception as exc:
            self.failed += 1
            logger.warning("OpenTelemetry: metrics not exported: %s", exc)
            return False
        if result.name != "SUCCESS":
            self.failed += 1
            return False
        self.pushed += 1
        return True

    def _work(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.push()

    def close(self, timeout_s: float) -> None:
        """Stop the thread, push the last reading, shut the exporter (blocking: call it
        from a thread, while the event loop still runs — the reading is taken there)."""
        self._stop.set()
        self._thread.join(timeout_s)
        self.push()
        self.exporter.shutdown(timeout_millis=timeout_s * 1000)
