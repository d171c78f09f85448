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
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
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
