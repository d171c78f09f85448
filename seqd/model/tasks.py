"""Task definitions as the catalog reports them: summaries, full definitions with
their input schema, retry policies, and the problems that make a task invalid."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from seqd.model.runs import Model

TASK_NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,127}$"


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
