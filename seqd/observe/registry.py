"""The metrics registry: counters, gauges and fixed-bucket histograms, kept as plain
dicts from a tuple of label values to a number, and read as ``Family`` records.

Recording is on the daemon's hot path (every run's status change, every storage and
RPC call), so it is one dict operation and, for a histogram, one bisect: no locks, no
awaits, no objects per sample. Everything is mutated on the event loop only; a reader
on another thread (an exporter) asks the loop for a copy (``families_threadsafe``).

A metric may have a ``cap`` on its series (label combinations) and share a budget with
others (``SeriesBudget``): task code cannot grow memory without bound by inventing
label values — a sample that would add a series past either limit is dropped, and the
``on_drop`` callback counts it.

Its own module because it is the one store every recorder (``runs``, ``calls``,
``custom``, ``schedules``) writes to and every reader (``metrics.get``, the exporters,
the alert engine) reads, and it is ours rather than prometheus_client's: see
docs/decisions.md.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from bisect import bisect_left
from collections.abc import Callable, Sequence
from typing import Any

from seqd.model.metrics import DEFAULT_BUCKETS, Family, MetricKind, Series

Key = tuple[str, ...]
"""The values of a series' labels, in the order of its metric's ``labelnames``."""
DropHook = Callable[[str, str], None]
"""``on_drop(metric, reason)``: a sample was refused."""


class SeriesBudget:
    """Series left for a group of metrics together (all task metrics)."""

    __slots__ = ("left",)

    def __init__(self, total: int) -> None:
        self.left = total


class Metric:
    """What every kind shares: name, help, label names and the series' limits."""

    kind: MetricKind
    __slots__ = ("_budget", "_on_drop", "cap", "help", "labelnames", "name")

    def __init__(
        self,
        name: str,
        help: str,
        labelnames: Sequence[str] = (),
        *,
        cap: int | None = None,
        budget: SeriesBudget | None = None,
        on_drop: DropHook | None = None,
    ) -> None:
        self.name = name
        self.help = help
        self.labelnames: tuple[str, ...] = tuple(labelnames)
        self.cap = cap
        self._budget = budget
        self._on_drop = on_drop

    def _admit(self, size: int) -> bool:
        """May one more series be added to the ``size`` there are?"""
        if self.cap is not None and size >= self.cap:
            self._drop("series_cap")
            return False
        budget = self._budget
        if budget is not None:
            if budget.left <= 0:
                self._drop("total_series_cap")
                return False
            budget.left -= 1
        return True

    def _drop(self, reason: str) -> None:
        if self._on_drop is not None:
            self._on_drop(self.name, reason)

    def _labels(self, key: Key) -> dict[str, str]:
        return dict(zip(self.labelnames, key, strict=True))

    def read(self) -> Family:
        raise NotImplementedError


class Counter(Metric):
    kind: MetricKind = "counter"
    __slots__ = ("values",)

    def __init__(self, name: str, help: str, labelnames: Sequence[str] = (), **limits: Any) -> None:
        super().__init__(name, help, labelnames, **limits)
        self.values: dict[Key, float] = {}

    def inc(self, key: Key = (), amount: float = 1.0) -> None:
        values = self.values
        try:
            values[key] += amount
        except KeyError:
            if self._admit(len(values)):
                values[key] = amount

    def total(self, match: dict[str, str] | None = None) -> float:
        return sum(v for k, v in self.values.items() if _matches(self, k, match))

    def read(self) -> Family:
        series = [Series(labels=self._labels(k), value=v) for k, v in self.values.items()]
        return Family(name=self.name, kind=self.kind, help=self.help, series=series)


class Gauge(Counter):
    """A value that goes up and down (``set``, or ``inc`` by a negative amount)."""

    kind: MetricKind = "gauge"
    __slots__ = ()

    def set(self, key: Key, value: float) -> None:
        values = self.values
        if key in values or self._admit(len(values)):
            values[key] = value


class Histogram(Metric):
    """Observations counted in fixed buckets. A series is a list: one count per bucket
    (the last one is ``+Inf``), then the sum of the observations."""

    kind: MetricKind = "histogram"
    __slots__ = ("bounds", "cells")

    def __init__(
        self,
        name: str,
        help: str,
        labelnames: Sequence[str] = (),
        bounds: Sequence[float] = DEFAULT_BUCKETS,
        **limits: Any,
    ) -> None:
        super().__init__(name, help, labelnames, **limits)
        self.bounds: tuple[float, ...] = tuple(bounds)
        self.cells: dict[Key, list[float]] = {}

    def observe(self, key: Key, value: float) -> None:
        cell = self.cells.get(key)
        if cell is None:
            if not self._admit(len(self.cells)):
                return
            cell = self.cells[key] = [0.0] * (len(self.bounds) + 2)
        cell[bisect_left(self.bounds, value)] += 1
        cell[-1] += value

    def total(self, match: dict[str, str] | None = None, part: str = "count") -> float:
        """The ``count`` (or ``sum``) of the matching series together."""
        cells = [c for k, c in self.cells.items() if _matches(self, k, match)]
        if part == "sum":
            return sum(c[-1] for c in cells)
        return sum(sum(c[:-1]) for c in cells)

    def read(self) -> Family:
        series: list[Series] = []
        for key, cell in self.cells.items():
            running = 0
            cumulative: list[int] = []
            for count in cell[:-2]:
                running += int(count)
                cumulative.append(running)
            total = running + int(cell[-2])
            series.append(
                Series(labels=self._labels(key), count=total, sum=cell[-1], buckets=cumulative)
            )
        return Family(
            name=self.name, kind=self.kind, help=self.help, bounds=list(self.bounds), series=series
        )


def _matches(metric: Metric, key: Key, match: dict[str, str] | None) -> bool:
    if not match:
        return True
    names = metric.labelnames
    for label, wanted in match.items():
        if label not in names or key[names.index(label)] != wanted:
            return False
    return True


Collector = Callable[[], list[Family]]
"""Families computed when read (process memory, queue depth...)."""


class Registry:
    """Every metric of one daemon, by name; implements ``seqd.plugins.metrics.MetricsReader``."""

    def __init__(self) -> None:
        self.metrics: dict[str, Metric] = {}
        self._collectors: list[Collector] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def add(self, metric: Metric) -> Any:
        if metric.name in self.metrics:
            raise ValueError(f"metric {metric.name!r} is already registered")
        self.metrics[metric.name] = metric
        return metric

    def counter(self, name: str, help: str, labelnames: Sequence[str] = ()) -> Counter:
        counter: Counter = self.add(Counter(name, help, labelnames))
        return counter

    def gauge(self, name: str, help: str, labelnames: Sequence[str] = ()) -> Gauge:
        gauge: Gauge = self.add(Gauge(name, help, labelnames))
        return gauge

    def histogram(
        self,
        name: str,
        help: str,
        labelnames: Sequence[str] = (),
        bounds: Sequence[float] = DEFAULT_BUCKETS,
    ) -> Histogram:
        histogram: Histogram = self.add(Histogram(name, help, labelnames, bounds))
        return histogram

    def collector(self, collect: Collector) -> None:
        """Add families computed at each read."""
        self._collectors.append(collect)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop that owns the registry (``families_threadsafe`` reads there)."""
        self._loop = loop

    # -- reading (``MetricsReader``) ------------------------------------------------------

    def families(self) -> list[Family]:
        found = [metric.read() for metric in self.metrics.values()]
        for collect in self._collectors:
            found.extend(collect())
        found.sort(key=lambda f: f.name)
        return found

    def value(self, name: str, match: dict[str, str] | None = None) -> float | None:
        """The sum of the series of ``name`` whose labels include ``match``; None if
        there is no such metric. A histogram is read as ``<name>_count`` and
        ``<name>_sum``, a counter with or without its ``_total``."""
        metric = self.metrics.get(name)
        if isinstance(metric, Counter):
            return metric.total(match)
        for suffix in ("_count", "_sum"):
            base = self.metrics.get(name.removesuffix(suffix))
            if name.endswith(suffix) and isinstance(base, Histogram):
                return base.total(match, suffix[1:])
        other = self.metrics.get(f"{name}_total") or self.metrics.get(name.removesuffix("_total"))
        if isinstance(other, Counter) and other.kind == "counter":
            return other.total(match)
        for collect in self._collectors:
            for family in collect():
                if family.name == name:
                    return sum(
                        s.value or 0.0
                        for s in family.series
                        if all(s.labels.get(k) == v for k, v in (match or {}).items())
                    )
        return None

    def families_threadsafe(self, timeout: float = 5.0) -> list[Family]:
        loop = self._loop
        if loop is None or loop.is_closed():
            raise RuntimeError("the metrics registry is not bound to a running loop")
        done: concurrent.futures.Future[list[Family]] = concurrent.futures.Future()

        def read() -> None:
            try:
                done.set_result(self.families())
            except BaseException as exc:
                done.set_exception(exc)

        loop.call_soon_threadsafe(read)
        try:
            return done.result(timeout)
        except concurrent.futures.TimeoutError:
            raise TimeoutError(f"the event loop did not answer within {timeout:g}s") from None
