"""Stored and reported data about runs: runs, log lines, journal steps, queries over
runs, and the key-value state.

These are the ★ shapes clients see: a Run is written to storage before any
change to it is acted on or reported, and the same Struct travels over the wire.
Timestamps are RFC 3339 UTC strings with microseconds, so they sort as text.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

RunStatus = Literal["queued", "running", "suspended", "succeeded", "failed", "cancelled"]

LogStream = Literal["stdout", "stderr", "log", "system"]


class Model(msgspec.Struct, kw_only=True, omit_defaults=False):
    """Base of stored/reported data: keyword-only, tolerant of fields added later."""


class RunError(Model, kw_only=True):
    """Why a run did not succeed. ``type`` is stable (``exception``, ``timeout``,
    ``cancelled``, ``exit_code``, ``crashed``, ``validation``, ``interrupted``...)."""

    type: str
    message: str
    details: dict[str, Any] = {}


class Resources(Model, kw_only=True):
    """What a run cost: CPU seconds (user + system) and peak resident set size."""

    cpu_s: float | None = None
    peak_rss_bytes: int | None = None


class Run(Model, kw_only=True):
    id: str
    task: str
    status: RunStatus
    input: dict[str, Any] = {}
    output: Any = None
    error: RunError | None = None
    parent_id: str | None = None
    root_id: str | None = None
    attempt: int = 1
    task_version: str | None = None
    priority: int = 0
    idempotency_key: str | None = None
    idempotency_scope: str | None = None
    """Whose key space ``idempotency_key`` is in (``seqd.model.scopes``): set by the
    daemon from who submitted the run, never by a caller."""
    created_at: str
    started_at: str | None = None
    """When the run first started; kept through suspensions, restarts and retries, so
    ``finished_at - started_at`` is its wall time."""
    finished_at: str | None = None
    running_s: float | None = None
    """Seconds spent executing, over all its attempts and resumes (not counting time
    queued, suspended or waiting to retry); an execution cut off by a daemon crash is
    not counted, as its end is unknown."""
    node: str | None = None
    submitted_by: int | None = None
    resources: Resources | None = None
    pid: int | None = None
    """Process (group) id of a running shell command, so a restart can find it."""
    wake_at: str | None = None
    """A suspended run: when it is due to run again (a durable timer)."""
    waiting_for: str | None = None
    """A suspended run: what wakes it — ``signal:<name>`` or ``run:<id>`` (a child)."""
    retry_of: str | None = None
    """Set by ``runs.retry``: the failed run this one repeats."""
    trace_id: str | None = None
    """The W3C trace id (32 hex digits) the run's whole tree shares: new for a root
    run, the caller's with a ``traceparent``, the parent's for a child run. None on
    runs stored before traces existed (``seqd.model.traces.trace_of`` derives one)."""
    parent_span_id: str | None = None
    """The span the run's span hangs under: its parent run's span, or the caller's
    span from a ``traceparent``; None for a root run without one."""
    schedule: str | None = None
    """The schedule that started this run (a fire, or ``schedules.trigger``)."""
    scheduled_for: str | None = None
    """The nominal fire time it was started for; a triggered run: when it was asked for."""
    redacted: bool = False
    """Only in answers: the caller may not see this run's data, so ``input``,
    ``output``, the error's message and details and ``idempotency_key`` are hidden."""


class LogLine(Model, kw_only=True):
    seq: int
    ts: str
    stream: LogStream
    text: str


class NewLogLine(Model, kw_only=True):
    """A log line before storage gave it its ``seq``."""

    ts: str
    stream: LogStream
    text: str


class NewStep(Model, kw_only=True):
    """One entry of a run's journal before storage numbered it.

    The journal is what makes a resumed run exact: a flow (and, later, task code through
    ``ctx``) records each effect under a ``key`` that is the same every time the run is
    replayed, so on resume it finds the recorded outcome instead of acting again.
    ``kind`` says what the entry is (``transition``: the flow moved from one state to
    another; ``state``: a state's execution started/ended; ``child``: a child run was
    started; ``wait``: a durable delay was scheduled; ``compensate``...).
    """

    ts: str
    kind: str
    key: str
    name: str = ""
    """The state (or step) this entry is about, for people."""
    status: str = ""
    data: dict[str, Any] = {}
    """Kind-specific: ``from``/``to``/``why``, ``child_id``, ``output``, ``error``,
    ``due``, ``attempt``..."""


class Step(NewStep, kw_only=True):
    seq: int
    """Position in the run's journal, from 1."""


class RunQuery(Model, kw_only=True):
    task: str | None = None
    status: RunStatus | None = None
    parent_id: str | None = None
    schedule: str | None = None
    roots_only: bool = False
    """Only runs without a parent (what users submitted, not the states of flows)."""
    limit: int = 50
    cursor: str | None = None


class RunPage(Model, kw_only=True):
    runs: list[Run]
    next_cursor: str | None = None


class RunChange(Model, kw_only=True):
    """A run as last written, with that write's change position: every run write gets
    the next position of its store, in commit order, so "what changed after P" is exact
    across restarts (events replay from it)."""

    position: int
    run: Run


class KVEntry(Model, kw_only=True):
    """One key of the key-value state (``kv.*`` tools): its JSON value and when it was
    last written. Keys live in namespaces (``task/<name>``, ``global``)."""

    namespace: str
    key: str
    value: Any = None
    updated_at: str
