"""What each kind of alert rule measures, and whether its condition holds now.

- ``threshold``: a metric (summed over the series that carry ``labels``), as its
  current value or its ``rate``/``increase`` over ``window``, compared to
  ``threshold``. The rate and increase come from the readings the alert engine takes
  at each evaluation (counter resets, at a restart, count from zero).
- ``consecutive_failures``: the task's runs failed ``count`` times in a row (since
  its last success; cancelled runs do not break the row).
- ``run_duration`` / ``queue_wait``: a run (of ``task``, or any) has been running /
  waiting for a worker longer than ``above``.
- ``rss``: the daemon's resident memory is above ``above``.

Its own module because each kind is a small pure reading of what ``RunMetrics``, the
registry and the process already know; the engine (``alerts``) only keeps states.
"""

from __future__ import annotations

import operator
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from seqd.config.observe import AlertRule
from seqd.observe.registry import Registry
from seqd.observe.runs import RunMetrics

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
}
MAX_RUNS_NAMED = 10
"""Runs a run_duration or queue_wait alert names in its details."""


@dataclass
class Reading:
    holds: bool
    value: float | None = None
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)


class Condition:
    def __init__(self, rule: AlertRule) -> None:
        self.rule = rule

    def read(self, now: float) -> Reading:
        raise NotImplementedError


class Threshold(Condition):
    def __init__(self, rule: AlertRule, registry: Registry) -> None:
        super().__init__(rule)
        self._registry = registry
        self._window = rule.window_s
        self._samples: deque[tuple[float, float]] = deque()
        self._compare = _COMPARE[rule.op]

    def read(self, now: float) -> Reading:
        rule = self.rule
        where = f"{rule.metric}{_labels(rule.labels)}"
        current = self._registry.value(rule.metric or "", rule.labels)
        if current is None:
            return Reading(False, None, f"{where}: no such metric yet")
        value: float | None = current
        if rule.function != "value":
            value = self._change(now, current)
        details = {"metric": rule.metric, "labels": rule.labels, "function": rule.function,
                   "threshold": rule.threshold}  # fmt: skip
        if value is None:
            return Reading(False, None, f"{where}: not enough readings yet", details)
        threshold = float(rule.threshold or 0.0)
        what = where if rule.function == "value" else f"{rule.function}({where}[{rule.window}])"
        message = f"{what} = {value:g} ({rule.op} {threshold:g})"
        return Reading(self._compare(value, threshold), value, message, details)

    def _change(self, now: float, current: float) -> float | None:
        """The increase (or per-second rate) over the window, from the readings."""
        samples = self._samples
        samples.append((now, current))
        while len(samples) > 2 and samples[1][0] <= now - self._window:
            samples.popleft()
        if len(samples) < 2:
            return None
        increase = 0.0
        previous = samples[0][1]
        for _, value in list(samples)[1:]:
            increase += value - previous if value >= previous else value  # a reset
            previous = value
        if self.rule.function == "increase":
            return increase
        span = samples[-1][0] - samples[0][0]
        return increase / span if span > 0 else None


class ConsecutiveFailures(Condition):
    def __init__(self, rule: AlertRule, runs: RunMetrics) -> None:
        super().__init__(rule)
        self._runs = runs

    def read(self, now: float) -> Reading:
        task = self.rule.task or ""
        count = self._runs.failures_in_a_row.get(task, 0)
        limit = self.rule.count or 1
        message = f"task {task}: {count} run(s) failed in a row (alert at {limit})"
        return Reading(count >= limit, float(count), message, {"task": task, "count": limit})


class TooLong(Condition):
    """run_duration (over ``RunMetrics.running_since``) or queue_wait (``queued_since``)."""

    def __init__(self, rule: AlertRule, runs: RunMetrics) -> None:
        super().__init__(rule)
        self._runs = runs
        self._above = rule.above_s
        self._doing = "running" if rule.kind == "run_duration" else "waiting for a worker"

    def read(self, now: float) -> Reading:
        runs = self._runs
        since = runs.running_since if self.rule.kind == "run_duration" else runs.queued_since
        over = sorted(
            ((s, run_id) for run_id, s in runs.longest(since, self.rule.task) if s > self._above),
            reverse=True,
        )
        details: dict[str, Any] = {"task": self.rule.task, "above_s": self._above}
        if not over:
            return Reading(False, None, f"no run {self._doing} longer than {self._above:g}s",
                           details)  # fmt: skip
        longest, run_id = over[0]
        details["runs"] = [r for _, r in over[:MAX_RUNS_NAMED]]
        details["count"] = len(over)
        message = (
            f"{len(over)} run(s) {self._doing} longer than {self._above:g}s; "
            f"longest: {run_id} ({longest:.0f}s)"
        )
        return Reading(True, longest, message, details)


class Memory(Condition):
    def __init__(self, rule: AlertRule, rss: Callable[[], int]) -> None:
        super().__init__(rule)
        self._rss = rss
        self._above = rule.above_bytes

    def read(self, now: float) -> Reading:
        rss = self._rss()
        mib = rss / 2**20
        message = (
            f"daemon resident memory {mib:.1f} MiB (alert above {self._above / 2**20:.1f} MiB)"
        )
        return Reading(rss > self._above, float(rss), message, {"above_bytes": self._above})


def condition_of(
    rule: AlertRule, registry: Registry, runs: RunMetrics, rss: Callable[[], int]
) -> Condition:
    if rule.kind == "threshold":
        return Threshold(rule, registry)
    if rule.kind == "consecutive_failures":
        return ConsecutiveFailures(rule, runs)
    if rule.kind == "rss":
        return Memory(rule, rss)
    return TooLong(rule, runs)


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
