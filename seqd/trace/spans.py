"""A run's span and the spans of its journaled operations, from the stored run and its
journal: the one way spans are made, for ``runs.trace`` and for exporters alike.

A journaled operation is every entry under one key: its first entry (or the
``started`` time its last entry records) starts the span, an entry with a final status
ends it; a sleep or timer ends when it is due. Transitions and deadlines are moments,
not work: ``runs.steps`` shows them, the trace does not.
"""

from __future__ import annotations

import time
from typing import Any

from seqd.model import timeutil
from seqd.model.runs import Run, Step
from seqd.model.status import TERMINAL
from seqd.model.traces import Span, run_span_id, step_span_id, trace_of

NOT_SPANS = frozenset(("transition", "deadline"))
ENDED = frozenset(("succeeded", "failed", "received", "timeout", "cancelled"))
FAILED = frozenset(("failed", "timeout"))
TIMED = frozenset(("sleep", "timer"))
"""Kinds whose span ends when their ``due`` time has passed."""


def run_span(run: Run) -> Span:
    """The span of ``run``: from its creation (queue wait included) to its end."""
    parent = run.parent_span_id
    if parent is None and run.parent_id is not None:
        parent = run_span_id(run.parent_id)  # a run stored before traces existed
    attributes: dict[str, Any] = {
        "seqd.run.id": run.id,
        "seqd.task": run.task,
        "seqd.run.attempt": run.attempt,
        "seqd.run.status": run.status,
    }
    for name, value in (
        ("seqd.task.version", run.task_version),
        ("seqd.run.parent_id", run.parent_id),
        ("seqd.run.root_id", run.root_id),
        ("seqd.run.retry_of", run.retry_of),
        ("seqd.node", run.node),
    ):
        if value is not None:
            attributes[name] = value
    error = run.error
    return Span(
        trace_id=trace_of(run),
        span_id=run_span_id(run.id),
        parent_span_id=parent,
        name=f"run {run.task}",
        kind="run",
        run_id=run.id,
        start=run.created_at,
        end=run.finished_at if run.status in TERMINAL else None,
        outcome=run.status,
        failed=run.status == "failed",
        error=f"{error.type}: {error.message}" if error is not None else None,
        attributes=attributes,
    )


def journal_spans(run: Run, steps: list[Step], now: float | None = None) -> list[Span]:
    """One span per journaled operation of ``run``, in the order they began."""
    groups: dict[str, list[Step]] = {}
    for step in steps:
        if step.kind not in NOT_SPANS:
            groups.setdefault(step.key, []).append(step)
    clock = time.time() if now is None else now
    trace_id = trace_of(run)
    parent = run_span_id(run.id)
    ended_at = run.finished_at if run.status in TERMINAL else None
    spans = [_span(run.id, trace_id, parent, key, entries, clock, ended_at)
             for key, entries in groups.items()]  # fmt: skip
    spans.sort(key=lambda s: s.start)
    return spans


def _span(
    run_id: str,
    trace_id: str,
    parent: str,
    key: str,
    entries: list[Step],
    now: float,
    run_ended: str | None,
) -> Span:
    first, last = entries[0], entries[-1]
    data = last.data
    started = data.get("started")
    start = started if isinstance(started, str) else first.ts
    end: str | None = last.ts if last.status in ENDED else None
    due = data.get("due")
    if end is None and last.kind in TIMED and isinstance(due, int | float):
        end = timeutil.format_ts(float(due)) if due <= now or run_ended else None
    if end is None:
        end = run_ended  # the run ended while it was still open
    error = data.get("error")
    attributes: dict[str, Any] = {"seqd.journal.key": key, "seqd.step.kind": last.kind}
    if last.name:
        attributes["seqd.step.name"] = last.name
    for name in ("child_id", "attempts", "index", "seconds"):
        value = data.get(name)
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            attributes[f"seqd.step.{name}"] = value
    return Span(
        trace_id=trace_id,
        span_id=step_span_id(run_id, key),
        parent_span_id=parent,
        name=last.kind if last.name in ("", last.kind) else f"{last.kind} {last.name}",
        kind=last.kind,
        run_id=run_id,
        start=start,
        end=max(end, start) if end is not None else None,
        outcome=last.status,
        failed=last.status in FAILED,
        error=f"{error.get('type')}: {error.get('message')}" if isinstance(error, dict) else None,
        attributes=attributes,
    )
