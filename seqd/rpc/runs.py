"""Wire types of ``runs.*``: submitting (one run or a batch), reading, waiting,
listing, cancelling, signalling, retrying, logs, journal steps and traces.

Its own module, as each area's wire types are; ``protocol.METHODS`` lists the methods.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta

from seqd.model.runs import LogLine, Run, RunStatus, Step
from seqd.model.traces import Span
from seqd.rpc.params import (
    MAX_BATCH_RUNS,
    IdempotencyKey,
    Limit,
    Params,
    Priority,
    RunId,
    RunRef,
    TaskName,
    TimeoutS,
)
from seqd.rpc.schedules import (
    ScheduleName,
)

TraceParentText = Annotated[
    str,
    Meta(
        max_length=128,
        description="W3C trace context: 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>",
    ),
]


class SubmitParams(Params, kw_only=True):
    task: TaskName
    input: dict[str, Any] = {}
    wait: bool = False
    timeout_s: TimeoutS | None = None
    idempotency_key: IdempotencyKey | None = None
    priority: Priority = 0
    traceparent: TraceParentText | None = None
    """The caller's W3C trace context: the run joins that trace, under that span."""


class SubmitManyParams(Params, kw_only=True):
    task: TaskName
    inputs: Annotated[list[dict[str, Any]], Meta(min_length=1, max_length=MAX_BATCH_RUNS)]
    """One run per input, accepted all together or not at all."""
    idempotency_keys: (
        Annotated[list[IdempotencyKey | None], Meta(max_length=MAX_BATCH_RUNS)] | None
    ) = None
    """One per input (null for none), as ``runs.submit``'s ``idempotency_key``."""
    priority: Priority = 0


class SubmitManyResult(msgspec.Struct, kw_only=True):
    ids: list[str]
    """The run of each input, in order (an idempotency key may answer with an older run)."""
    created: int
    """How many of them are new runs."""


class RunIdParams(Params, kw_only=True):
    id: RunRef


class WaitParams(Params, kw_only=True):
    id: RunRef
    timeout_s: TimeoutS | None = None


class ListParams(Params, kw_only=True):
    task: TaskName | None = None
    status: RunStatus | None = None
    parent_id: RunRef | None = None
    schedule: ScheduleName | None = None
    roots_only: bool = False
    """Only runs without a parent (what users submitted, not the states of flows)."""
    count_children: bool = False
    """Also answer how many children each listed run has (``children``)."""
    limit: Limit = 50
    cursor: RunId | None = None


class ListResult(msgspec.Struct, kw_only=True):
    runs: list[Run]
    next_cursor: str | None = None
    children: dict[str, int] = {}
    """With ``count_children``: listed run id → its number of child runs (none: absent)."""


class CancelParams(Params, kw_only=True):
    id: RunRef
    reason: Annotated[str, Meta(max_length=1000)] | None = None


SignalName = Annotated[
    str,
    Meta(pattern=r"^[A-Za-z0-9_.:-]{1,128}$", description="a signal name"),
]


class SignalParams(Params, kw_only=True):
    id: RunRef
    name: SignalName
    data: Any = None
    """The payload ``ctx.wait_signal`` returns (any JSON value)."""


class RetryParams(Params, kw_only=True):
    id: RunRef


class LogsParams(Params, kw_only=True):
    id: RunRef
    after: Annotated[int, Meta(ge=0)] = 0
    limit: Limit = 1000


class LogsResult(msgspec.Struct, kw_only=True):
    lines: list[LogLine]
    next: int
    """Pass as ``after`` to read on; equals ``after`` when nothing new was there."""
    finished: bool
    """True once the run is terminal and every line has been read."""


class StepsParams(Params, kw_only=True):
    id: RunRef
    after: Annotated[int, Meta(ge=0)] = 0
    limit: Limit = 1000


class StepsResult(msgspec.Struct, kw_only=True):
    steps: list[Step]
    next: int
    """Pass as ``after`` to read on; equals ``after`` when nothing new was there."""
    finished: bool
    """True once the run is terminal and every entry has been read."""


class TraceResult(msgspec.Struct, kw_only=True):
    trace_id: str
    root_id: str
    """The run the tree starts from."""
    spans: list[Span]
    """By start time; ``parent_span_id`` links them into a tree."""
    truncated: bool = False
    """The tree was larger than one answer holds: some runs or spans are left out."""
