"""Stored and reported data: runs, log lines, task definitions.

These are the ★ shapes clients see (DESIGN.md): a Run is written to storage before any
change to it is acted on or reported, and the same Struct travels over the wire.
Timestamps are RFC 3339 UTC strings with microseconds, so they sort as text.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from seqd.constants import RUN_STATUSES as RUN_STATUSES
from seqd.constants import TERMINAL as TERMINAL
from seqd.constants import UNFINISHED as UNFINISHED

RunStatus = Literal["queued", "running", "suspended", "succeeded", "failed", "cancelled"]

LogStream = Literal["stdout", "stderr", "log", "system"]

TASK_NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,127}$"


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


class RunQuery(Model, kw_only=True):
    task: str | None = None
    status: RunStatus | None = None
    parent_id: str | None = None
    limit: int = 50
    cursor: str | None = None


class RunPage(Model, kw_only=True):
    runs: list[Run]
    next_cursor: str | None = None


class KVEntry(Model, kw_only=True):
    """One key of the key-value state (``kv.*`` tools): its JSON value and when it was
    last written. Keys live in namespaces (``task/<name>``, ``global``)."""

    namespace: str
    key: str
    value: Any = None
    updated_at: str


class Problem(Model, kw_only=True):
    """One thing wrong with a task definition: where (a file or field) and why."""

    where: str
    message: str


class RetryPolicy(Model, kw_only=True):
    max: int = 0
    backoff_s: float = 1.0
    factor: float = 2.0


class TaskSummary(Model, kw_only=True):
    name: str
    type: str | None
    description: str = ""
    version: str | None = None
    valid: bool = True
    problems: list[Problem] = []
    tags: list[str] = []


class TaskDef(Model, kw_only=True):
    """A task as the catalog knows it, with its input schema (JSON Schema)."""

    name: str
    type: str | None
    path: str
    description: str = ""
    version: str | None = None
    valid: bool = True
    problems: list[Problem] = []
    inputs: dict[str, Any] | None = None
    inputs_from: Literal["config", "signature", "none"] = "none"
    """``signature``: derived by the task type from the task's code (python: the
    function's parameters); ``none``: any object is accepted."""
    timeout_s: float | None = None
    retries: RetryPolicy = msgspec.field(default_factory=RetryPolicy)
    concurrency: int | None = None
    tags: list[str] = []
    options: dict[str, Any] = {}
