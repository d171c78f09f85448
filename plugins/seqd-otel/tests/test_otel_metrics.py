"""seqd's metrics as OpenTelemetry metrics: the conversion of a reading (counters as
cumulative monotonic sums, gauges, histograms with per-bucket counts), and a real daemon
pushing them over OTLP/HTTP to a receiver this test runs, values matching ``metrics.get``."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    Histogram,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from otlp_receiver import Receiver, StartDaemon, write_task
from seqd_otel import exporter_name
from seqd_otel.metrics import MetricsPusher, env_ms, to_metrics_data

from seqd.client import Client
from seqd.model.metrics import Family, Series

pytestmark = pytest.mark.timeout(120)

READING = [
    Family(name="seqd_runs_finished_total", kind="counter", help="Runs that ended.",
           series=[Series(labels={"task": "a", "status": "succeeded"}, value=3.0),
                   Series(labels={"task": "b", "status": "failed"}, value=1.0)]),
    Family(name="seqd_queue_depth", kind="gauge", series=[Series(value=7.0)]),
    Family(name="seqd_run_duration_seconds", kind="histogram", bounds=[0.1, 1.0],
           series=[Series(labels={"task": "a"}, count=5, sum=4.5, buckets=[2, 4])]),
    Family(name="seqd_nothing_yet_total", kind="counter"),
]  # fmt: skip


def test_a_reading_becomes_sums_gauges_and_histograms() -> None:
    data = to_metrics_data(READING, Resource({"service.name": "x"}), 1_000, 2_000)
    [resource_metrics] = data.resource_metrics
    assert resource_metrics.resource.attributes["service.name"] == "x"
    [scope] = resource_metrics.scope_metrics
    metrics = {m.name: m for m in scope.metrics}
    # A family without series yet is left out rather than sent empty.
    assert set(metrics) == {"seqd_runs_finished_total", "seqd_queue_depth",
                            "seqd_run_duration_seconds"}  # fmt: skip
    runs = metrics["seqd_runs_finished_total"]
    assert isinstance(runs.data, Sum)
    assert runs.data.is_monotonic
    assert runs.data.aggregation_temporality == AggregationTemporality.CUMULATIVE
    assert runs.description == "Runs that ended."
    values = {p.attributes["task"]: p.value for p in runs.data.data_points}  # type: ignore[index]
    assert values == {"a": 3.0, "b": 1.0}
    assert {(p.start_time_unix_nano, p.time_unix_nano) for p in runs.data.data_points} == {
        (1_000, 2_000)
    }
    depth = metrics["seqd_queue_depth"]
    assert isinstance(depth.data, Gauge)
    assert [p.value for p in depth.data.data_points] == [7.0]
    duration = metrics["seqd_run_duration_seconds"]
    assert duration.unit == "s"
    assert isinstance(duration.data, Histogram)
    [point] = duration.data.data_points
    # seqd's buckets are cumulative (2 at or below 0.1 s, 4 at or below 1 s, 5 in all);
    # OTLP counts each bucket on its own, the last one past the highest bound.
    assert list(point.bucket_counts) == [2, 2, 1]
    assert list(point.explicit_bounds) == [0.1, 1.0]
    assert (point.count, point.sum) == (5, 4.5)


class Collecting(MetricExporter):
    def __init__(self, result: MetricExportResult = MetricExportResult.SUCCESS) -> None:
        super().__init__()
        self.result = result
        self.exported: list[MetricsData] = []
        self.shut = False

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        self.exported.append(metrics_data)
        return self.result

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.shut = True


def test_the_pusher_pushes_every_interval_and_once_more_at_close() -> None:
    exporter = Collecting()
    pusher = MetricsPusher(lambda: READING, exporter, Resource({}), interval_ms=20)
    deadline = time.monotonic() + 10
    while pusher.pushed < 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    pusher.close(5)
    after = len(exporter.exported)
    assert exporter.shut
    time.sleep(0.1)
    assert len(exporter.exported) == after, "the thread kept pushing after close"
    assert pusher.failed == 0


def test_a_failed_read_or_export_is_counted_and_the_pusher_goes_on(caplog: Any) -> None:
    def read() -> list[Family]:
        raise TimeoutError("the loop did not answer")

    exporter = Collecting(MetricExportResult.FAILURE)
    with caplog.at_level(logging.WARNING):
        pusher = MetricsPusher(read, exporter, Resource({}), interval_ms=10_000)
        assert not pusher.push()
        pusher._read = lambda: READING
        assert not pusher.push()
        pusher.close(5)
    assert pusher.failed == 3  # the two pushes above, and the one at close
    assert "the loop did not answer" in caplog.text


def test_the_metrics_signal_is_configured_on_its_own() -> None:
    endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}
    assert exporter_name(endpoint, "metrics") == "otlp"
    assert exporter_name({**endpoint, "OTEL_METRICS_EXPORTER": "none"}, "metrics") is None
    assert exporter_name({**endpoint, "OTEL_METRICS_EXPORTER": "none"}, "traces") == "otlp"
    only = {"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://c/v1/metrics"}
    assert exporter_name(only, "metrics") == "otlp"
    assert exporter_name(only, "traces") is None
    assert exporter_name({"OTEL_METRICS_EXPORTER": "console"}, "metrics") == "console"
    assert env_ms({"X": "250"}, "X", 60_000) == 250
    assert env_ms({"X": "soon"}, "X", 60_000) == 60_000
    assert env_ms({"X": "-5"}, "X", 60_000) == 60_000


def _points(request: Any) -> dict[str, list[Any]]:
    """Metric name to its data points (a histogram's, a sum's or a gauge's)."""
    found: dict[str, list[Any]] = {}
    for resource_metrics in request.resource_metrics:
        for scope in resource_metrics.scope_metrics:
            for metric in scope.metrics:
                kind = metric.WhichOneof("data")
                found[metric.name] = list(getattr(metric, kind).data_points)
    return found


def _task(point: Any) -> str | None:
    return {a.key: a.value.string_value for a in point.attributes}.get("task")


def test_a_daemon_pushes_its_metrics_over_otlp_http(
    tmp_path: Path, start_daemon: StartDaemon, receiver: Receiver
) -> None:
    write_task(tmp_path / "tasks", "otel-noop", "def run(ctx):\n    return 1\n")
    socket, proc = start_daemon(OTEL_METRIC_EXPORT_INTERVAL="100", OTEL_TRACES_EXPORTER="none")
    with Client(socket, timeout=60) as c:
        for _ in range(3):
            assert c.submit("otel-noop", {}, wait=True, timeout_s=60).status == "succeeded"
        families = {f.name: f for f in c.metrics().families}
    ours = families["seqd_runs_finished_total"].series
    finished = sum(s.value or 0 for s in ours if s.labels.get("task") == "otel-noop")
    assert finished == 3

    def latest() -> tuple[Any, dict[str, list[Any]]]:
        with receiver.lock:
            last = receiver.metrics[-1] if receiver.metrics else None
        return last, (_points(last) if last is not None else {})

    deadline = time.monotonic() + 30
    while True:
        request, points = latest()
        done = [p for p in points.get("seqd_runs_finished_total", []) if _task(p) == "otel-noop"]
        if sum(p.as_double for p in done) == 3:
            break
        assert time.monotonic() < deadline, sorted(points)
        time.sleep(0.05)
    assert receiver.paths == {"/v1/metrics"}, "traces were turned off"
    resource = {
        a.key: a.value.string_value for a in request.resource_metrics[0].resource.attributes
    }
    assert resource["service.name"] == "seqd-under-test"
    assert resource["service.instance.id"]
    [histogram] = [p for p in points["seqd_run_duration_seconds"] if _task(p) == "otel-noop"]
    assert histogram.count == 3
    assert sum(histogram.bucket_counts) == 3
    assert len(histogram.bucket_counts) == len(histogram.explicit_bounds) + 1
    assert "seqd_queue_depth" in points
    # The last reading is pushed at stop: the receiver gets one more request.
    before = len(receiver.metrics)
    proc.terminate()
    assert proc.wait(30) == 0
    assert len(receiver.metrics) > before


def test_metrics_off_in_the_daemon_leaves_the_exporter_off(
    tmp_path: Path, start_daemon: StartDaemon, receiver: Receiver
) -> None:
    (tmp_path / "tasks").mkdir()
    config = tmp_path / "seqd.toml"
    config.write_text("[metrics]\nenabled = false\n")
    _, proc = start_daemon(OTEL_METRIC_EXPORT_INTERVAL="50", OTEL_TRACES_EXPORTER="none",
                           SEQD_CONFIG=str(config))  # fmt: skip
    time.sleep(0.5)
    proc.terminate()
    assert proc.wait(30) == 0
    assert receiver.metrics == []
    assert "metrics.enabled is false" in (tmp_path / "daemon.log").read_text()
