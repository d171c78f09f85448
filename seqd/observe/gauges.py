"""Gauges read when the metrics are read: the daemon process (memory, CPU), the queue
and the workers, and the tracers' delivery (events dropped by a tracer that is behind).

Its own module because these cost nothing between reads: each is computed from what
the daemon already knows (or one ``psutil`` call) at the moment someone asks.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import psutil

from seqd.model.metrics import Family, MetricKind, Series

EngineStats = Callable[[], dict[str, int]]
"""``Engine.stats``: ``max``, ``busy``, ``queued``, ``coordinating``."""
TracerStats = Callable[[], dict[str, dict[str, int]]]
"""``PluginHost.tracer_stats``: per tracer ``queued``, ``delivered``, ``dropped``, ``failed``."""


class DaemonGauges:
    """The collector of the daemon's read-time gauges (``Registry.collector``)."""

    def __init__(self, engine: EngineStats, tracers: TracerStats) -> None:
        self._engine = engine
        self._tracers = tracers
        self._process = psutil.Process(os.getpid())

    def rss_bytes(self) -> int:
        return int(self._process.memory_info().rss)

    def __call__(self) -> list[Family]:
        cpu = self._process.cpu_times()
        stats = self._engine()
        tracers = self._tracers()
        return [
            _one("seqd_process_resident_memory_bytes", "gauge",
                 "Resident memory of the daemon process.", self.rss_bytes()),
            _one("seqd_process_cpu_seconds_total", "counter",
                 "CPU time (user + system) the daemon process used.", cpu.user + cpu.system),
            _one("seqd_queue_depth", "gauge",
                 "Runs queued and waiting for a worker slot.", stats.get("queued", 0)),
            _one("seqd_workers_busy", "gauge",
                 "Worker slots running a run.", stats.get("busy", 0)),
            _one("seqd_workers_total", "gauge",
                 "Worker slots (the workers setting).", stats.get("max", 0)),
            _by_tracer("seqd_tracer_events_dropped_total",
                       "Trace events dropped because a tracer was behind, by tracer.",
                       tracers, "dropped"),
            _by_tracer("seqd_tracer_events_failed_total",
                       "Trace events a tracer raised on, by tracer.", tracers, "failed"),
        ]  # fmt: skip


def _one(name: str, kind: MetricKind, help: str, value: float) -> Family:
    return Family(name=name, kind=kind, help=help, series=[Series(value=float(value))])


def _by_tracer(name: str, help: str, tracers: dict[str, dict[str, int]], field: str) -> Family:
    series = [Series(labels={"tracer": t}, value=float(s[field])) for t, s in tracers.items()]
    return Family(name=name, kind="counter", help=help, series=series)
