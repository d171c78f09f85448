"""Trace ids, ``traceparent`` parsing and spans built from runs and journals, without a
daemon: the rules every span follows, whichever backend stored the records."""

from __future__ import annotations

import pytest

from seqd.errors import ValidationFailed
from seqd.model.runs import Run, Step
from seqd.model.timeutil import format_ts, parse_ts
from seqd.model.traces import (
    format_traceparent,
    parse_traceparent,
    run_span_id,
    step_span_id,
    trace_of,
)
from seqd.trace.spans import journal_spans, run_span

T0 = "2026-01-02T03:04:05.000000Z"
T1 = "2026-01-02T03:04:06.000000Z"


def test_traceparent_round_trip_and_refusals() -> None:
    tp = format_traceparent("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
    assert tp == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    parsed = parse_traceparent(tp)
    assert (parsed.trace_id, parsed.span_id, parsed.flags) == (tp[3:35], tp[36:52], "01")
    with pytest.raises(ValidationFailed) as err:
        parse_traceparent("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "tp")
    assert err.value.details == {"field": "tp"} and "version" in err.value.message


def test_ids_are_derived_stable_and_distinct() -> None:
    assert run_span_id("a" * 24) == run_span_id("a" * 24) != run_span_id("b" * 24)
    assert step_span_id("a" * 24, "py.1.1") != step_span_id("a" * 24, "py.1.2")
    old = Run(id="b" * 24, task="t", status="queued", created_at=T0, root_id="a" * 24)
    root = Run(id="a" * 24, task="t", status="queued", created_at=T0)
    assert trace_of(old) == trace_of(root) and len(trace_of(root)) == 32


def steps(*entries: tuple[str, str, str, str, dict[str, object]]) -> list[Step]:
    return [
        Step(seq=i, ts=ts, kind=kind, key=key, name=kind, status=status, data=data)
        for i, (ts, kind, key, status, data) in enumerate(entries, 1)
    ]


def test_open_spans_close_when_due_or_when_the_run_ends() -> None:
    due = parse_ts(T1)
    run = Run(id="a" * 24, task="t", status="suspended", created_at=T0, trace_id="1" * 32)
    journal = steps(
        (T0, "sleep", "py.1.1", "scheduled", {"due": due}),
        (T0, "signal", "py.1.2", "waiting", {}),
        (T0, "transition", "x>", "", {}),
    )
    before = {s.kind: s for s in journal_spans(run, journal, now=due - 1)}
    assert set(before) == {"sleep", "signal"}  # a transition is a moment, not a span
    assert before["sleep"].end is None and before["signal"].end is None
    after = {s.kind: s for s in journal_spans(run, journal, now=due + 1)}
    assert after["sleep"].end == format_ts(due) and after["signal"].end is None
    ended = Run(id=run.id, task="t", status="cancelled", created_at=T0, finished_at=T1)
    closed = {s.kind: s for s in journal_spans(ended, journal, now=due - 1)}
    assert closed["signal"].end == T1 and closed["signal"].outcome == "waiting"
    span = run_span(ended)
    assert (span.start, span.end, span.failed, span.outcome) == (T0, T1, False, "cancelled")
