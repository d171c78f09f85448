"""Task metrics: what ``ctx.metric`` (python) and ``::metric`` lines (shell) record.

Every sample is checked again here (a worker is not trusted): the name, the labels
and the value (``seqd.model.metrics.metric_problem``). A metric is created by its
first sample, which fixes its kind and its label names; every series gets the label
``task``, the task that recorded it. Memory stays bounded whatever tasks do: each
metric has at most ``max_series_per_metric`` series and all of them together
``max_series``. A sample past a limit, of another kind or with other label names is
dropped: counted in ``seqd_task_metric_drops_total{reason}``, logged once per metric
and reason, and the reason is returned so the run's log can say so.

Its own module because these are the rules for untrusted metrics; the built-in ones
(``runs``, ``calls``) are declared in code and need none of them.
"""

from __future__ import annotations

import logging
from typing import Any

from seqd.config.observe import MetricsSettings
from seqd.model.metrics import metric_problem
from seqd.observe.registry import Counter, Gauge, Histogram, Metric, Registry, SeriesBudget

logger = logging.getLogger(__name__)

MAX_WARNED = 1000
"""(metric, reason) pairs the daemon log warns about; past it drops are only counted."""
HELP = "A task's own metric (ctx.metric, ::metric)."


def exposed_names(name: str, kind: str) -> set[str]:
    """The sample names a metric takes in the Prometheus text format."""
    if kind == "counter":
        base = name.removesuffix("_total")
        return {base, f"{base}_total", f"{base}_created"}
    if kind == "histogram":
        return {name, f"{name}_bucket", f"{name}_count", f"{name}_sum", f"{name}_created"}
    return {name}


class CustomMetrics:
    def __init__(self, registry: Registry, settings: MetricsSettings) -> None:
        self._registry = registry
        self._cap = settings.max_series_per_metric
        self._budget = SeriesBudget(settings.max_series)
        self._taken: set[str] = set()
        self._warned: set[tuple[str, str]] = set()
        self._dropped: str | None = None
        self.drops = registry.counter(
            "seqd_task_metric_drops_total",
            "Task metric samples dropped, by reason (invalid, series_cap, "
            "total_series_cap, kind_conflict, label_conflict, name_conflict).",
            ("reason",),
        )

    def record(self, task: str, name: Any, value: Any, kind: Any, labels: Any) -> str | None:
        """Record one sample of ``task``; None, or why it was dropped."""
        problem = metric_problem(name, value, kind, labels)
        if problem is not None:
            return self._refuse(str(name)[:200], "invalid", problem)
        labelnames = ("task", *sorted(labels))
        metric = self._registry.metrics.get(name)
        if metric is None:
            created = self._create(name, kind, labelnames)
            if isinstance(created, str):
                return created
            metric = created
        elif metric.kind != kind:
            return self._refuse(name, "kind_conflict", f"{name!r} is a {metric.kind}, not a {kind}")
        elif metric.labelnames != labelnames:
            return self._refuse(
                name,
                "label_conflict",
                f"{name!r} has labels {list(metric.labelnames[1:])}, not {list(labelnames[1:])}",
            )
        key = (task, *(labels[n] for n in labelnames[1:]))
        self._dropped = None
        if isinstance(metric, Histogram):
            metric.observe(key, float(value))
        elif isinstance(metric, Gauge):
            metric.set(key, float(value))
        elif isinstance(metric, Counter):
            metric.inc(key, float(value))
        dropped = self._take_dropped()
        if dropped is not None:
            limit = self._cap if dropped == "series_cap" else "max_series"
            return self._refuse(
                name, None, f"{name!r} has too many label combinations (limit {limit})"
            )
        return None

    def _take_dropped(self) -> str | None:
        """The reason the last sample was dropped by a limit (``_on_drop``), if it was."""
        dropped, self._dropped = self._dropped, None
        return dropped

    def _create(self, name: str, kind: str, labelnames: tuple[str, ...]) -> Metric | str:
        names = exposed_names(name, kind)
        if names & self._taken:
            return self._refuse(
                name, "name_conflict", f"{name!r} clashes with another metric's sample names"
            )
        if self._budget.left <= 0:
            self._on_drop(name, "total_series_cap")
            return self._refuse(name, None, f"no series left for {name!r} (metrics.max_series)")
        kinds: dict[str, type[Metric]] = {
            "counter": Counter,
            "gauge": Gauge,
            "histogram": Histogram,
        }
        metric = kinds[kind](
            name, HELP, labelnames, cap=self._cap, budget=self._budget, on_drop=self._on_drop
        )
        self._registry.add(metric)
        self._taken |= names
        return metric

    def _on_drop(self, name: str, reason: str) -> None:
        self._dropped = reason
        self.drops.inc((reason,))
        self._warn(name, reason, f"limit reached for {name!r}")

    def _refuse(self, name: str, reason: str | None, message: str) -> str:
        if reason is not None:
            self.drops.inc((reason,))
            self._warn(name, reason, message)
        return message

    def _warn(self, name: str, reason: str, message: str) -> None:
        pair = (name, reason)
        if pair not in self._warned and len(self._warned) < MAX_WARNED:
            self._warned.add(pair)
            logger.warning("task metric dropped (%s): %s; further drops are only counted "
                           "in seqd_task_metric_drops_total", reason, message)  # fmt: skip
