"""The control channel between the daemon and a python worker: its frames and its
frame size limit.

Its own module because both ends import it (the framing itself is
``seqd.runtime.frames``, shared with the spawner's channel). It imports only msgspec
and the standard library because the worker imports it at start-up, where every
millisecond counts.

Requests from task code to the daemon go as ``Call(id, op, args)`` and come back as
``Reply(id, ok, value, error)``; the daemon dispatches ``op`` through a handler table
the engine can extend, so new ``ctx`` operations (steps, tools, durable sleeps) need no
new frame types. Output and schemas travel as JSON bytes: encoding them in the worker is
what proves they are JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from seqd.runtime import frames
from seqd.runtime.frames import HEADER as HEADER
from seqd.runtime.frames import Frame, Hello, ProtocolError

MAX_FRAME_BYTES = 256 * 1024 * 1024
"""A longer frame is a protocol error: the worker is killed rather than trusted."""


class ErrorInfo(msgspec.Struct, kw_only=True):
    """A typed failure, mirrored by ``seqd.errors.TaskFailed`` on the daemon side."""

    type: str
    message: str
    details: dict[str, Any] = {}


# -- daemon -> worker ------------------------------------------------------------------


class Execute(Frame, tag="execute"):
    """Run ``entry`` from ``code`` (compiled with ``filename``) once."""

    run_id: str
    task: str
    attempt: int
    task_dir: str
    work_dir: str
    filename: str
    code: str
    entry: str
    input: bytes
    """The run input as JSON (JSON integers may exceed msgpack's range)."""
    from_signature: bool
    """True: convert the input with the struct derived from the signature; False: the
    config gave a schema and the input is passed as keyword arguments as is."""
    max_output_bytes: int
    trace_id: str = ""
    """The run's trace (``ctx.trace_id``), its own span (for ``ctx.traceparent``),
    its root run and its parent run."""
    span_id: str = ""
    root_id: str = ""
    parent_id: str | None = None
    env: dict[str, str] = {}
    """The task's own variables (its config's ``env``, secrets resolved), on top of the
    worker's environment for this run only."""


class SchemaRequest(Frame, tag="schema"):
    """Derive the input schema from the signature of ``entry`` in ``code``."""

    task: str
    filename: str
    code: str
    entry: str


class Reply(Frame, tag="reply"):
    """The answer to the worker's ``Call`` with the same ``id``: ``value`` if ``ok``,
    else ``error``."""

    id: int
    ok: bool
    value: Any = None
    error: ErrorInfo | None = None


# -- worker -> daemon ------------------------------------------------------------------


class Log(Frame, tag="log"):
    """One line of the run's output."""

    stream: str
    """``stdout``, ``stderr`` (the replaced ``sys`` streams) or ``log`` (``ctx.log``)."""
    text: str


class Metric(Frame, tag="metric"):
    """``ctx.metric``: one sample of a task metric. Not answered (a metric never waits
    for the daemon); the daemon checks it again and may drop it."""

    name: str
    value: float
    kind: str
    labels: dict[str, str] = {}


class Call(Frame, tag="call"):
    """``ctx.call(op, args)`` from task code; the daemon answers with a ``Reply``."""

    id: int
    op: str
    args: Any = None


class Result(Frame, tag="result"):
    """The end of an ``Execute``: the output as JSON, or the error; what it cost."""

    ok: bool
    output: bytes = b"null"
    error: ErrorInfo | None = None
    cancelled: bool = False
    cpu_s: float = 0.0
    """CPU seconds (user + system) of the worker and its reaped children for this run."""
    maxrss_bytes: int = 0
    """The worker's peak resident set size so far (``ru_maxrss``): a worker-lifetime
    peak, not this run's alone."""


class SchemaResult(Frame, tag="schema_result"):
    """The answer to a ``SchemaRequest``: the schema as JSON, or the error."""

    ok: bool
    schema: bytes = b"null"
    error: ErrorInfo | None = None


ToWorker = Execute | SchemaRequest | Reply
ToDaemon = Hello | Log | Metric | Call | Result | SchemaResult


__all__ = ["HEADER", "MAX_FRAME_BYTES", "Frame", "Hello", "ProtocolError"]

decode_to_worker: Callable[[frames.Body], ToWorker] = frames.decoder(ToWorker, "daemon")
decode_to_daemon: Callable[[frames.Body], ToDaemon] = frames.decoder(ToDaemon, "worker")


def pack(frame: Frame) -> bytes:
    """The frame with its length prefix, ready to write."""
    return frames.pack(frame, MAX_FRAME_BYTES)


def frame_length(header: bytes | bytearray) -> int:
    return frames.frame_length(header, MAX_FRAME_BYTES)
