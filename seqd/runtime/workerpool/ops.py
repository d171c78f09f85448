"""The durable ``ctx`` operations on the wire: what the worker asks, what it is answered.

Each durable operation of task code (``ctx.step``, ``ctx.tool``, ``ctx.run_task``,
``ctx.sleep``, ``ctx.wait_signal``) that the journal cannot answer by itself is one
``Call(op, args)`` whose ``args`` is one of the Structs below and whose reply is an
``Answer`` (``step`` answers None: it only records). The Structs are array-like, so a
call costs a short msgpack array, not a map of field names.

Values that are JSON to the user (results, inputs, payloads) travel as JSON bytes: the
worker's encoder is what proves a value is JSON, JSON integers may exceed msgpack's
range, and the daemon can store the bytes without encoding them again.

Imported by the worker at start-up: msgspec and the standard library only.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

OP_JOURNAL = "journal"
OP_STEP = "step"
OP_TOOL = "tool"
OP_CHILD = "child"
OP_WAIT = "wait"

Kind = Literal["step", "tool", "child", "sleep", "signal"]
KINDS: tuple[str, ...] = ("step", "tool", "child", "sleep", "signal")
"""Journal entry kinds written by python tasks (distinct from the flow's kinds)."""

ENCODE_ERRORS: tuple[type[Exception], ...] = (
    TypeError,
    ValueError,
    OverflowError,
    msgspec.EncodeError,
)
"""What msgspec raises for a value that is not JSON (unsupported type, bad float...)."""

MAX_NAME = 200
"""Longest step, tool, task or signal name: the worker refuses a longer one before it
asks, and the daemon if asked anyway."""

DONE_STATUSES = frozenset(("succeeded", "failed", "received", "timeout"))
"""Statuses after which an operation's outcome is final (a ``sleep`` is final once its
due time has passed)."""


def journal_key(attempt: int, index: int) -> str:
    """The journal key of operation ``index`` (from 1) of ``attempt``: unique per run
    attempt, the same on every replay of it."""
    return f"py.{attempt}.{index}"


def parse_key(key: str, attempt: int) -> int | None:
    """The operation index in ``key`` if it belongs to ``attempt``, else None."""
    prefix = f"py.{attempt}."
    if not key.startswith(prefix):
        return None
    tail = key[len(prefix) :]
    return int(tail) if tail.isdigit() else None


class Wire(msgspec.Struct, array_like=True, forbid_unknown_fields=True):
    pass


class OpError(Wire):
    """A failure recorded in the journal: ``type`` is a stable string."""

    type: str
    message: str
    details: dict[str, Any] = {}


class Entry(Wire):
    """One journal entry of this attempt, as the worker replays it."""

    index: int
    kind: str
    name: str
    status: str
    data: dict[str, Any]


class StepArgs(Wire):
    """Record the outcome of ``ctx.step`` number ``index``: ``result`` (JSON) or
    ``error``. Answered (None) once it is durable."""

    index: int
    name: str
    result: bytes | None = None
    error: OpError | None = None
    started: float | None = None
    """When the step's function was called (epoch seconds): the start of its span."""


class ToolArgs(Wire):
    index: int
    name: str
    params: bytes
    """A JSON object."""


class ChildArgs(Wire):
    index: int
    task: str
    input: bytes
    """A JSON object."""
    wait: bool
    """True: answer with the outcome (suspend while the child runs); False: answer
    with the child's id once it is started (``ctx.start_task``)."""
    known: bool = False
    """The journal already records this child's start."""


class WaitArgs(Wire):
    """``ctx.sleep`` (``signal`` None: ``due`` or ``seconds``) or ``ctx.wait_signal``."""

    index: int
    signal: str | None = None
    ordinal: int = 1
    """For a signal: this is the ``ordinal``-th wait on that name in the attempt."""
    seconds: float | None = None
    """Sleep: from now; signal: the timeout, from now (None: no timeout)."""
    due: float | None = None
    """Epoch seconds: a sleep's absolute due time (``sleep_until``), or the recorded
    due time of a sleep or a signal timeout being resumed."""
    known: bool = False
    """The journal already records this wait."""


Action = Literal["return", "raise", "suspend"]


class Answer(Wire):
    """The outcome of a durable operation."""

    action: Action
    value: bytes = b"null"
    """``return``: the result as JSON."""
    error: OpError | None = None
    """``raise``: the recorded failure."""
    child_id: str | None = None
    due: float | None = None
    wake_at: float | None = None
    """``suspend``: wake up at this time (epoch seconds), if not before."""
    waiting_for: str | None = None
    """``suspend``: ``signal:<name>`` or ``run:<id>``."""


_json = msgspec.json.Encoder()
_entries: msgspec.json.Decoder[list[Entry]] = msgspec.json.Decoder(list[Entry])


def encode_entries(entries: list[Entry]) -> bytes:
    return _json.encode(entries)


def decode_entries(data: bytes) -> list[Entry]:
    return _entries.decode(data)
