"""Runs as metrics: counted and timed as their status changes, never by scanning them.

The engine calls ``transition(run, previous)`` once for every status change it has
stored (``seqd.engine.transitions``). From that alone this keeps:

- the number of stored runs per status (``counts``, which ``daemon.status`` shows):
  read from storage once at start (``load``), then moved by each change — so the
  answer costs the same with 100 or 10 million runs in the store;
- ``seqd_runs_submitted_total``, ``seqd_runs_started_total`` and
  ``seqd_runs_finished_total`` by task (and status);
- how long each execution ran (``seqd_run_duration_seconds``) and how long runs
  waited for a worker (``seqd_run_queue_wait_seconds``), by task;
- what the alert rules ask about: the runs running or queued right now and since
  when, and each task's failures in a row.

Its own module because this is the hot path of counting: a few dict operations and
one clock read per change, nothing allocated that outlives the run.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from seqd.model import timeutil
from seqd.model.metrics import Family, Series
from seqd.model.runs import Run
from seqd.model.status import RUN_STATUSES, TERMINAL
from seqd.observe.registry import Registry


class RunMetrics:
    """One per daemon. With ``registry`` None (``metrics.enabled = false``) only the
    counts per status are kept."""

    def __init__(self, registry: Registry | None = None) -> None:
        self.counts: dict[str, int] = dict.fromkeys(RUN_STATUSES, 0)
        self.enabled = registry is not None
        self.queued_since: dict[str, tuple[float, str]] = {}
        """Runs waiting for a worker: (monotonic time they were queued, task)."""
        self.running_since: dict[str, tuple[float, str]] = {}
        """Runs executing: (monotonic time they started, task)."""
        self.failures_in_a_row: dict[str, int] = {}
        """Per task: how many of its runs failed since its last success."""
        if registry is None:
            return
        self.submitted = registry.counter(
            "seqd_runs_submitted_total", "Runs accepted, by task.", ("task",)
        )
        self.started = registry.counter(
            "seqd_runs_started_total",
            "Executions started (an attempt, or a resumption after a suspension), by task.",
            ("task",),
        )
        self.finished = registry.counter(
            "seqd_runs_finished_total",
            "Runs that ended, by task and final status (succeeded, failed, cancelled).",
            ("task", "status"),
        )
        self.duration = registry.histogram(
            "seqd_run_duration_seconds",
            "How long one execution of a run ran, from start to its next status, by task.",
            ("task",),
        )
        self.queue_wait = registry.histogram(
            "seqd_run_queue_wait_seconds",
            "How long a run waited in the queue (and retry back-off) before it started, by task.",
            ("task",),
        )
        registry.collector(self.count_families)

    def load(self, counts: dict[str, int]) -> None:
        """The stored counts per status, read once at start before any change."""
        for status in RUN_STATUSES:
            self.counts[status] = int(counts.get(status, 0))

    def transition(self, run: Run, previous: str | None) -> None:
        """``run`` (as stored) has just moved from ``previous`` (None: it is new)."""
        counts = self.counts
        status = run.status
        if previous is not None:
            counts[previous] -= 1
        counts[status] += 1
        if not self.enabled:
            return
        now = time.monotonic()
        run_id = run.id
        task = run.task
        key = (task,)
        if previous == "running":
            began = self.running_since.pop(run_id, None)
            if began is not None:
                self.duration.observe(key, now - began[0])
        if status == "queued":
            self.queued_since[run_id] = (now, task)
            if previous is None:
                self.submitted.inc(key)
        elif status == "running":
            self.started.inc(key)
            self.running_since[run_id] = (now, task)
            waited = self.queued_since.pop(run_id, None)
            if waited is not None:
                self.queue_wait.observe(key, now - waited[0])
            elif run.attempt == 1 and run.started_at is not None:
                # Queued before this daemon started: its wait is since its creation.
                wait = timeutil.parse_ts(run.started_at) - timeutil.parse_ts(run.created_at)
                self.queue_wait.observe(key, max(wait, 0.0))
        elif status in TERMINAL:
            self.queued_since.pop(run_id, None)
            self.finished.inc((task, status))
            if status == "failed":
                self.failures_in_a_row[task] = self.failures_in_a_row.get(task, 0) + 1
            elif status == "succeeded":
                self.failures_in_a_row[task] = 0

    # -- what alert rules read -----------------------------------------------------------

    def longest(
        self, since: dict[str, tuple[float, str]], task: str | None
    ) -> Iterator[tuple[str, float]]:
        """``(run id, seconds)`` of the runs in ``since`` (of ``task`` if given)."""
        now = time.monotonic()
        for run_id, (began, of) in since.items():
            if task is None or of == task:
                yield run_id, now - began

    def count_families(self) -> list[Family]:
        """``seqd_runs``: the counts per status, as a gauge."""
        series = [Series(labels={"status": s}, value=n) for s, n in self.counts.items()]
        return [
            Family(
                name="seqd_runs",
                kind="gauge",
                help="Runs in storage by status, as this daemon counts them.",
                series=series,
            )
        ]
