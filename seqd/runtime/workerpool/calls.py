"""Serving task code's ``ctx.call(op, args)`` in the daemon: find the operation's
handler, run it for the run's job, and answer with a ``Reply`` frame.

Its own module because the handler table is the extension point (the python task type
and the engine add operations: steps, tools, durable sleeps) and what a handler may
raise is part of what task code sees; the worker process only carries the frames.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from seqd.plugins.tasktype import Job
from seqd.runtime.workerpool.messages import Call, ErrorInfo, ProtocolError, Reply, pack

logger = logging.getLogger(__name__)

OpHandler = Callable[[Job, Any], Awaitable[Any]]
"""Serves one ``ctx.call(op, args)`` of a run: ``await handler(job, args)``; the value
must be msgpack-able. Raising a ``SeqdError`` or ``TaskFailed`` passes its type on."""


async def answer(call: Call, job: Job | None, handlers: Mapping[str, OpHandler]) -> bytes:
    """The packed ``Reply`` to ``call`` (made while ``job`` is the worker's run)."""
    handler = handlers.get(call.op)
    if job is None or handler is None:
        why = "no run is active" if job is None else f"no operation named {call.op!r}"
        reply = Reply(id=call.id, ok=False, error=ErrorInfo(type="unknown_op", message=why))
    else:
        try:
            value = await handler(job, call.args)
            reply = Reply(id=call.id, ok=True, value=value)
        except Exception as exc:
            reply = Reply(id=call.id, ok=False, error=_error_info(call.op, exc))
    try:
        return pack(reply)
    except (ProtocolError, TypeError, ValueError) as exc:
        info = ErrorInfo(type="internal", message=f"{call.op}: cannot encode reply: {exc}")
        return pack(Reply(id=call.id, ok=False, error=info))


def _error_info(op: str, exc: Exception) -> ErrorInfo:
    kind = getattr(exc, "type", None)
    message = getattr(exc, "message", None)
    details = getattr(exc, "details", None)
    if isinstance(kind, str) and isinstance(message, str):
        return ErrorInfo(type=kind, message=message, details=dict(details or {}))
    logger.exception("ctx.call %s failed", op)
    return ErrorInfo(type="internal", message=f"{op} failed: {type(exc).__name__}")
