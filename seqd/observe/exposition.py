"""The Prometheus text format of a reading, written by prometheus_client.

Our families go through a prometheus_client collector, and its ``generate_latest``
writes them: the escaping, the ``# HELP``/``# TYPE`` lines, ``_total`` on counters
and ``_bucket``/``_count``/``_sum`` with ``le`` on histograms are the library's,
exactly what Prometheus parses. Its own module because ``metrics.get`` and the HTTP
exporter both serve this text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

from seqd.model.metrics import Family

CONTENT_TYPE = CONTENT_TYPE_LATEST


class FamiliesCollector:
    """A prometheus_client collector of whatever ``read()`` returns at each collection."""

    def __init__(self, read: Callable[[], list[Family]]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        for family in self._read():
            yield converted(family)


def converted(family: Family) -> Metric:
    labelnames = list(family.series[0].labels) if family.series else []
    metric: CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily
    if family.kind == "counter":
        metric = CounterMetricFamily(family.name, family.help, labels=labelnames)
        for s in family.series:
            metric.add_metric([s.labels.get(n, "") for n in labelnames], s.value or 0.0)
    elif family.kind == "gauge":
        metric = GaugeMetricFamily(family.name, family.help, labels=labelnames)
        for s in family.series:
            metric.add_metric([s.labels.get(n, "") for n in labelnames], s.value or 0.0)
    else:
        metric = HistogramMetricFamily(family.name, family.help, labels=labelnames)
        bounds = family.bounds or []
        for s in family.series:
            buckets = [(_le(b), float(c)) for b, c in zip(bounds, s.buckets or [], strict=True)]
            buckets.append(("+Inf", float(s.count or 0)))
            values = [s.labels.get(n, "") for n in labelnames]
            metric.add_metric(values, buckets, s.sum or 0.0)
    return metric


def _le(bound: float) -> str:
    return repr(float(bound))


def render(families: list[Family]) -> bytes:
    """``families`` in the Prometheus text format (version 0.0.4)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FamiliesCollector(lambda: families))
    return generate_latest(registry)
