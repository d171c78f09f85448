"""Trace ids, span ids, W3C trace context (``traceparent``) and the ``Span`` record.

Every run belongs to a trace: a root run starts one (or joins its caller's, given a
``traceparent``), and its descendants share it. Span ids are not stored: a run's span
id and the span id of each journaled operation are derived from the run id (and the
journal key), so the daemon, ``runs.trace`` and an exporter all name a span the same
way, live or long after. Its own module because these ids are one contract shared by
the engine, the task types (``ctx.trace_id``, ``$TRACEPARENT``), the wire and tracers.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
from typing import Any, NamedTuple

from seqd.errors import ValidationFailed
from seqd.model.runs import Model, Run

ZERO_TRACE = "0" * 32
ZERO_SPAN = "0" * 16
_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX16 = re.compile(r"[0-9a-f]{16}")
_HEX2 = re.compile(r"[0-9a-f]{2}")

# Seeded from the OS once: a syscall per span id would cost more than the span.
_random = random.Random(os.urandom(16))


class Span(Model, kw_only=True):
    """One span of a run's trace: a run, or an operation made for it (a step, a tool
    call, a child run's start, a sleep, a signal, a flow state...).

    ``end`` is None while the span is open (the run still runs, the sleep is not due).
    ``failed`` marks spans whose outcome is a failure (shown as such by the waterfall
    and exported with an error status)."""

    trace_id: str
    span_id: str
    parent_span_id: str | None = None
    name: str
    kind: str
    """``run``, a journal entry kind (``step``, ``tool``, ``child``, ``sleep``,
    ``signal``, ``signal_in``, ``state``, ``attempt``, ``item``, ``timer``,
    ``compensate``), or ``tool.call`` / ``storage`` for live-only spans."""
    run_id: str
    start: str
    end: str | None = None
    outcome: str
    """The status it ended with (``succeeded``, ``failed``, ``received``...), or its
    current one while open."""
    failed: bool = False
    error: str | None = None
    """``type: message`` of a failure."""
    attributes: dict[str, Any] = {}


class TraceParent(NamedTuple):
    trace_id: str
    span_id: str
    """The caller's span: the parent of the run's span."""
    flags: str


# -- ids ---------------------------------------------------------------------------------


def new_trace_id() -> str:
    """A random trace id: 32 lowercase hex digits, never all zero."""
    return f"{_random.getrandbits(128) or 1:032x}"


def new_span_id() -> str:
    """A random span id (live-only spans: tool calls, storage calls)."""
    return f"{_random.getrandbits(64) or 1:016x}"


def _digest(text: str, size: int) -> str:
    value = hashlib.blake2b(text.encode(), digest_size=size).hexdigest()
    return value if value.strip("0") else value[:-1] + "1"


def run_span_id(run_id: str) -> str:
    """The span id of run ``run_id``: derived, so it needs no storage."""
    return _digest(run_id, 8)


def step_span_id(run_id: str, key: str) -> str:
    """The span id of the journaled operation ``key`` of run ``run_id``."""
    return _digest(f"{run_id}\x00{key}", 8)


def trace_of(run: Run) -> str:
    """The run's trace id; a run stored before traces existed gets one derived from
    its root, so its whole tree still shares one."""
    if run.trace_id is not None:
        return run.trace_id
    return _digest(run.root_id or run.id, 16)


# -- W3C trace context -------------------------------------------------------------------


def format_traceparent(trace_id: str, span_id: str, sampled: bool = True) -> str:
    """``00-<trace id>-<span id>-<flags>``, as W3C Trace Context spells it."""
    return f"00-{trace_id}-{span_id}-{'01' if sampled else '00'}"


def parse_traceparent(text: str, field: str = "traceparent") -> TraceParent:
    """Read a ``traceparent`` strictly (version 00 only); a bad one is
    ``ValidationFailed`` naming ``field`` and saying what is wrong."""

    def bad(why: str) -> ValidationFailed:
        return ValidationFailed(
            f"{field} is not a W3C traceparent ({why}); expected "
            "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>",
            {"field": field},
        )

    if not isinstance(text, str):
        raise bad("not a string")
    parts = text.split("-")
    if len(parts) != 4:
        raise bad(f"{len(parts)} dash-separated parts instead of 4")
    version, trace_id, span_id, flags = parts
    if version != "00":
        raise bad(f"version {version[:8]!r}; only 00 is accepted")
    if not _HEX32.fullmatch(trace_id) or trace_id == ZERO_TRACE:
        raise bad("the trace id must be 32 lowercase hex digits, not all zero")
    if not _HEX16.fullmatch(span_id) or span_id == ZERO_SPAN:
        raise bad("the parent id must be 16 lowercase hex digits, not all zero")
    if not _HEX2.fullmatch(flags):
        raise bad("the flags must be 2 lowercase hex digits")
    return TraceParent(trace_id, span_id, flags)
