"""One client connection: its framing, its order of answers, and what it may hold.

Lines are answered in order; a handler that completes synchronously is answered inside
``data_received``; a slow method (``runs.wait``, waiting submits: ``ordering``) is
served concurrently so it never holds up the connection. What a connection holds is
bounded and charged to the server's ``Budget``: its waiting requests, its buffered
bytes (a partial line, lines queued behind a waiting one). A line over the size limit,
or bytes over the daemon's total, get an error and the connection is closed. A client
that stops reading makes us stop reading it (transport flow control). End of input
cancels the connection's waiting requests and closes it once the requests already read
are answered — kept half-open for its event subscriptions while the client is there.
Each connection has a ``Push`` (``Caller.push``): what the layers above write unasked
(event notifications).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

import msgspec

from seqd.errors import InternalError, InvalidRequest, SeqdError, ShuttingDown
from seqd.rpc.dispatch import Caller, error_response
from seqd.rpc.peer import peer_credentials, peer_gone, peer_groups
from seqd.rpc.push import Push

if TYPE_CHECKING:
    from seqd.rpc.server import Server

logger = logging.getLogger(__name__)

_encoder = msgspec.json.Encoder()
PENDING_PAUSE = 1000
"""Lines queued behind a waiting request before the connection stops being read."""
PENDING_RESUME = 100
PEER_CHECK_S = 5.0
"""How often a half-closed connection kept for its subscriptions is checked."""


class _Id(msgspec.Struct):
    id: Any = msgspec.UNSET


_id_decoder = msgspec.json.Decoder(_Id)


def answer_to(line: bytes) -> tuple[bool, Any]:
    """Whether the request on ``line`` wants an answer (a notification does not), and
    the id to give it, for an answer given before dispatch (null for a batch or for
    what does not decode)."""
    if line.lstrip()[:1] == b"[":
        return True, None
    try:
        value = _id_decoder.decode(line).id
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return True, None
    if value is msgspec.UNSET:
        return False, None
    valid = isinstance(value, (int, str)) and not isinstance(value, bool)
    return True, value if valid else None


async def _answer(outcome: bytes | Awaitable[bytes | None] | None) -> bytes | None:
    """The response to one line; a failure here (never expected: the dispatcher answers
    errors itself) still gets an answer instead of silencing the connection."""
    try:
        if outcome is None or isinstance(outcome, bytes):
            return outcome
        return await outcome
    except Exception:
        logger.exception("answering a request failed")
        return _encoder.encode(error_response(None, InternalError("internal error")))


class Connection(asyncio.Protocol):
    def __init__(self, server: Server) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.caller = Caller(0, -1, -1, "none")
        self.push = Push(self._write, self._maybe_finish)
        """Notifications to this client (subscriptions write through it)."""
        self.last_active = time.monotonic()
        """When the client last sent a complete request or was last answered."""
        self._buffer = bytearray()
        self._scanned = 0
        """How much of ``_buffer`` is known to hold no newline."""
        self._pending: deque[bytes] = deque()
        self._pending_bytes = 0
        self._charged = 0
        """Bytes of ``_buffer`` and ``_pending`` charged to the server's budget."""
        self._worker: asyncio.Task[None] | None = None
        self._slow: set[asyncio.Task[None]] = set()
        self._admitted = False
        self._closing = False
        self._eof = False
        self._write_paused = False

    # -- asyncio.Protocol ----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing it.
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        pid, uid, gid = peer_credentials(sock)
        role = self.server.role_of(uid, gid, lambda: peer_groups(sock))
        self.caller = Caller(pid, uid, gid, role, self.push)
        refused = self.server.admit(self)
        if refused is not None:
            self._send(error_response(None, refused))
            self.close()
            return
        self._admitted = True

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        buffer = self._buffer
        buffer += data
        start = 0
        while True:
            end = buffer.find(b"\n", max(start, self._scanned))
            if end < 0:
                break
            line = bytes(buffer[start:end])
            start = end + 1
            self._scanned = start
            if line.strip():
                self._line(line)
                if self.closed:
                    return
        if start:
            del buffer[:start]
        self._scanned = len(buffer)
        if len(buffer) > self.server.limits.max_line_bytes:
            self._too_long()
            return
        self._recharge()

    def eof_received(self) -> bool:
        """The client closed its sending side (``echo ... | socat``): its waiting
        requests (``runs.wait``, ...) are cancelled, the requests already read are
        answered, then the connection closes. It stays half-open (True) only while
        those answers are due, or for its event subscriptions, and only while the
        client is still there to read them."""
        self._eof = True
        self._cancel_waits()
        if peer_gone(self.transport):
            self._cancel_requests()
        elif self.busy():
            if self.push.busy:
                self._check_peer_later()
            return True
        self.close()
        return False

    def _check_peer_later(self) -> None:
        """While half-open for subscriptions, look now and then whether the client is
        still there (a dead one is noticed at the next write otherwise)."""
        asyncio.get_running_loop().call_later(PEER_CHECK_S, self._check_peer)

    def _check_peer(self) -> None:
        if self._closing:
            return
        if peer_gone(self.transport):
            self.close()
        elif self.push.busy:
            self._check_peer_later()

    def busy(self) -> bool:
        """Whether the connection holds something: a request being served or queued,
        or a subscription."""
        return bool(self._pending or self._slow or self.push.busy) or (
            self._worker is not None and not self._worker.done()
        )

    def _maybe_finish(self) -> None:
        self.last_active = time.monotonic()
        if self._eof and not self.busy():
            self.close()

    @property
    def closed(self) -> bool:
        return self._closing

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self._release()
        self.push.close()
        self._cancel_requests()

    def pause_writing(self) -> None:
        self._write_paused = True
        self.push.pause()
        self._update_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        self._update_reading()
        self.push.resume()

    def _update_reading(self) -> None:
        """Read the client only while it reads our answers and its backlog is short
        (in lines and in bytes)."""
        if self.transport is None or self._closing:
            return
        backlog = len(self._pending)
        if (
            self._write_paused
            or backlog >= PENDING_PAUSE
            or self._pending_bytes >= self.server.limits.max_line_bytes
        ):
            self.transport.pause_reading()
        elif backlog < PENDING_RESUME and self._pending_bytes < self.server.limits.max_line_bytes:
            self.transport.resume_reading()

    # -- requests ------------------------------------------------------------------

    def _line(self, line: bytes) -> None:
        self.last_active = time.monotonic()
        if len(line) > self.server.limits.max_line_bytes:
            self._too_long()
            return
        if self._pending or (self._worker is not None and not self._worker.done()):
            self._pending.append(line)
            self._pending_bytes += len(line)
            self._update_reading()  # pipelining faster than we answer: wait for us
            return
        dispatcher = self.server.dispatcher
        if dispatcher.is_slow(line):
            self._spawn_slow(line)
            return
        outcome = dispatcher.handle(line, self.caller)
        if outcome is None or isinstance(outcome, bytes):
            self._write(outcome)
        else:
            self._worker = asyncio.ensure_future(self._drain(outcome))
            self._worker.add_done_callback(lambda _t: self._maybe_finish())

    async def _drain(self, first: Awaitable[bytes | None]) -> None:
        """Serve lines in order while some handler has to wait."""
        self._write(await _answer(first))
        dispatcher = self.server.dispatcher
        while self._pending and not self._closing:
            line = self._pending.popleft()
            self._pending_bytes -= len(line)
            self._recharge()
            self._update_reading()
            if dispatcher.is_slow(line):
                self._spawn_slow(line)
                continue
            self._write(await _answer(dispatcher.handle(line, self.caller)))

    def _spawn_slow(self, line: bytes) -> None:
        if self._eof:
            return  # read before end of input, reached after it: waits end with the input
        refused = self.server.budget.take_pending(len(self._slow))
        if refused is not None:
            self._refuse(line, refused)
            return

        async def serve() -> None:
            self._write(await _answer(self.server.dispatcher.handle(line, self.caller)))

        task = asyncio.ensure_future(serve())
        self._slow.add(task)
        self.server.track(task)
        task.add_done_callback(self._slow_done)

    def _slow_done(self, task: asyncio.Task[None]) -> None:
        self._slow.discard(task)
        self.server.budget.give_pending()
        self._maybe_finish()

    def _refuse(self, line: bytes, error: SeqdError) -> None:
        """Answer a request the connection may not take on now (unless it is a
        notification, which is never answered)."""
        wanted, rid = answer_to(line)
        if wanted:
            self._send(error_response(rid, error))

    def _cancel_waits(self) -> None:
        """Cancel the requests served beside the others: they may wait for long."""
        for task in list(self._slow):
            task.cancel()

    def _cancel_requests(self) -> None:
        """Stop serving: what waits is cancelled, what is queued is dropped."""
        if self._worker is not None:
            self._worker.cancel()
        self._cancel_waits()
        self._pending.clear()
        self._pending_bytes = 0
        self._buffer.clear()
        self._scanned = 0
        self._recharge()

    # -- memory ----------------------------------------------------------------------

    def _recharge(self) -> None:
        """Charge what the connection now buffers to the daemon's budget; over it, the
        connection is refused and closed."""
        held = len(self._buffer) + self._pending_bytes
        if held == self._charged or not self._admitted:
            return
        if self.server.budget.rebuffer(self._charged, held):
            self._charged = held
            return
        limit = self.server.limits.max_buffered_bytes_total
        self._buffer.clear()
        self._pending.clear()
        self._pending_bytes = 0
        self._send(
            error_response(
                None,
                InvalidRequest(
                    f"the daemon holds {limit} bytes of unanswered requests already; "
                    "closing the connection",
                    {"limit": limit, "scope": "total"},
                ),
            )
        )
        self.close()

    def _release(self) -> None:
        """Give back everything the connection was charged (once)."""
        if not self._admitted:
            return
        self._admitted = False
        self.server.budget.rebuffer(self._charged, 0)
        self._charged = 0
        self.server.forget(self)

    # -- writing and closing ---------------------------------------------------------

    def _write(self, payload: bytes | None) -> None:
        if payload is None or self.transport is None or self.transport.is_closing():
            return
        self.transport.write(payload + b"\n")

    def _send(self, response: object) -> None:
        self._write(_encoder.encode(response))

    def _too_long(self) -> None:
        limit = self.server.limits.max_line_bytes
        self._send(
            error_response(
                None,
                InvalidRequest(
                    f"line longer than {limit} bytes; closing the connection",
                    {"limit": limit},
                ),
            )
        )
        self.close()

    def close(self) -> None:
        self._closing = True
        self._buffer.clear()
        self._pending.clear()
        self._pending_bytes = 0
        if self.transport is not None:
            self.transport.close()

    def shutting_down(self) -> None:
        """Answer nothing more; tell waiting callers why their wait ends (subscriptions
        end with their last event, through ``push``'s close callbacks)."""
        for task in list(self._slow):
            task.cancel()
        self._send(error_response(None, ShuttingDown("the daemon is shutting down")))
        self.push.close()
        self.close()
