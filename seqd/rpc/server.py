"""The Unix-socket edge: framing, peer credentials, limits, connection lifecycle.

One ``asyncio.Protocol`` per connection. Lines are answered in order; a handler that
completes synchronously is answered inside ``data_received``; a slow method
(``runs.wait``, waiting submits) is served concurrently so it never holds up the
connection. A line over the size limit gets an error and the connection is closed.
A client that stops reading makes us stop reading it (transport flow control). Each
connection has a ``Push`` (``Caller.push``): what the layers above write unasked
(event notifications), with the same flow control, and told when the connection goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import select
import socket
import struct
from collections import deque
from collections.abc import Awaitable, Callable, Iterable

import msgspec

from seqd.errors import InternalError, InvalidRequest, ShuttingDown
from seqd.model.roles import Role
from seqd.rpc.dispatch import Caller, Dispatcher, error_response
from seqd.rpc.push import Push

logger = logging.getLogger(__name__)

_encoder = msgspec.json.Encoder()
PENDING_PAUSE = 1000
"""Lines queued behind a waiting request before the connection stops being read."""
PENDING_RESUME = 100
PEER_CHECK_S = 5.0
"""How often a half-closed connection kept for its subscriptions is checked."""
_PEERCRED = struct.Struct("3i")
SO_PEERGROUPS = getattr(socket, "SO_PEERGROUPS", 59)
"""Linux ≥ 4.13: the supplementary groups of the peer, as they were when it connected."""
MAX_GROUPS = 65536

RoleOf = Callable[[int, int, Callable[[], Iterable[int]]], Role]
"""``role_of(uid, gid, groups)``: a peer's role; ``groups()`` gives its supplementary
groups, asked for only when needed."""


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


def peer_gone(transport: asyncio.BaseTransport | None) -> bool:
    """Whether the other end of a half-closed connection has closed it altogether (a
    Unix socket reports POLLHUP once both directions are shut)."""
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None:
        return True
    try:
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN)
        return any(events & (select.POLLHUP | select.POLLERR) for _, events in poller.poll(0))
    except (OSError, ValueError):
        return True


def peer_credentials(sock: socket.socket | None) -> tuple[int, int, int]:
    """(pid, uid, gid) of the process at the other end of a Unix socket."""
    if sock is None:
        return (0, -1, -1)
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
    except OSError:
        return (0, -1, -1)
    pid, uid, gid = _PEERCRED.unpack(raw)
    return pid, uid, gid


def peer_groups(sock: socket.socket | None) -> list[int]:
    """The supplementary groups of the process at the other end of a Unix socket, as
    the kernel recorded them at connect time (not the group database); empty where
    the kernel cannot tell."""
    if sock is None:
        return []
    size = 64 * 4
    while size <= MAX_GROUPS * 4:
        try:
            raw = sock.getsockopt(socket.SOL_SOCKET, SO_PEERGROUPS, size)
        except OSError as exc:
            if exc.errno == errno.ERANGE:
                size *= 4
                continue
            return []
        return list(struct.unpack(f"{len(raw) // 4}I", raw[: len(raw) // 4 * 4]))
    return []


class Connection(asyncio.Protocol):
    def __init__(self, server: Server) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.caller = Caller(0, -1, -1, "none")
        self.push = Push(self._write, self._maybe_finish)
        """Notifications to this client (subscriptions write through it)."""
        self._buffer = bytearray()
        self._pending: deque[bytes] = deque()
        self._worker: asyncio.Task[None] | None = None
        self._slow: set[asyncio.Task[None]] = set()
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
        if not self.server.admit(self):
            self._send(
                error_response(
                    None,
                    InvalidRequest(
                        "too many connections",
                        {"limit": self.server.max_connections},
                    ),
                )
            )
            transport.close()

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        buffer = self._buffer
        buffer += data
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            line = bytes(buffer[start:end])
            start = end + 1
            if line.strip():
                self._line(line)
                if self.closed:
                    return
        if start:
            del buffer[:start]
        if len(buffer) > self.server.max_line_bytes:
            self._too_long()

    def eof_received(self) -> bool:
        """The client closed its sending side (``echo ... | socat``): answer what is
        still being served, then close. True keeps the transport half-open — not when
        the client is gone altogether (it may have subscriptions, which would otherwise
        keep a dead connection until their next event)."""
        self._eof = True
        if self._busy() and not peer_gone(self.transport):
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

    def _busy(self) -> bool:
        return bool(self._pending or self._slow or self.push.busy) or (
            self._worker is not None and not self._worker.done()
        )

    def _maybe_finish(self) -> None:
        if self._eof and not self._busy():
            self.close()

    @property
    def closed(self) -> bool:
        return self._closing

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self.server.forget(self)
        self.push.close()
        if self._worker is not None:
            self._worker.cancel()
        for task in list(self._slow):
            task.cancel()

    def pause_writing(self) -> None:
        self._write_paused = True
        self.push.pause()
        self._update_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        self._update_reading()
        self.push.resume()

    def _update_reading(self) -> None:
        """Read the client only while it reads our answers and its backlog is short."""
        if self.transport is None or self._closing:
            return
        if self._write_paused or len(self._pending) >= PENDING_PAUSE:
            self.transport.pause_reading()
        elif len(self._pending) < PENDING_RESUME:
            self.transport.resume_reading()

    # -- requests ------------------------------------------------------------------

    def _line(self, line: bytes) -> None:
        if len(line) > self.server.max_line_bytes:
            self._too_long()
            return
        dispatcher = self.server.dispatcher
        if self._pending or (self._worker is not None and not self._worker.done()):
            self._pending.append(line)
            if len(self._pending) >= PENDING_PAUSE:
                self._update_reading()  # pipelining faster than we answer: wait for us
            return
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
            self._update_reading()
            if dispatcher.is_slow(line):
                self._spawn_slow(line)
                continue
            self._write(await _answer(dispatcher.handle(line, self.caller)))

    def _spawn_slow(self, line: bytes) -> None:
        async def serve() -> None:
            self._write(await _answer(self.server.dispatcher.handle(line, self.caller)))

        task = asyncio.ensure_future(serve())
        self._slow.add(task)
        self.server.track(task)
        task.add_done_callback(self._slow_done)

    def _slow_done(self, task: asyncio.Task[None]) -> None:
        self._slow.discard(task)
        self._maybe_finish()

    def _write(self, payload: bytes | None) -> None:
        if payload is None or self.transport is None or self.transport.is_closing():
            return
        self.transport.write(payload + b"\n")

    def _send(self, response: object) -> None:
        self._write(_encoder.encode(response))

    def _too_long(self) -> None:
        limit = self.server.max_line_bytes
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


class Server:
    """Owns the listening sockets and every connection."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        *,
        max_line_bytes: int,
        max_connections: int,
        role_of: RoleOf,
    ) -> None:
        self.dispatcher = dispatcher
        self.max_line_bytes = max_line_bytes
        self.max_connections = max_connections
        self.role_of = role_of
        self.connections: set[Connection] = set()
        self._servers: list[asyncio.AbstractServer] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def listen_path(self, path: str, mode: int, group: str | None) -> None:
        """Bind ``path`` (replacing a stale socket file, refusing a live one)."""
        await asyncio.to_thread(_clear_stale_socket, path)
        old_umask = os.umask(0o177)
        try:
            server = await asyncio.get_running_loop().create_unix_server(
                lambda: Connection(self), path=path, backlog=1024
            )
        finally:
            os.umask(old_umask)
        if group is not None:
            import grp

            os.chown(path, -1, grp.getgrnam(group).gr_gid)
        os.chmod(path, mode)
        self._servers.append(server)

    async def listen_socket(self, sock: socket.socket) -> None:
        """Serve an inherited listening socket (systemd socket activation)."""
        server = await asyncio.get_running_loop().create_unix_server(
            lambda: Connection(self), sock=sock, backlog=1024
        )
        self._servers.append(server)

    def admit(self, conn: Connection) -> bool:
        if len(self.connections) >= self.max_connections:
            return False
        self.connections.add(conn)
        return True

    def forget(self, conn: Connection) -> None:
        self.connections.discard(conn)

    def track(self, task: asyncio.Task[None]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop_accepting(self) -> None:
        for server in self._servers:
            server.close()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await server.wait_closed()

    async def close_connections(self) -> None:
        for conn in list(self.connections):
            conn.shutting_down()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2)


def _clear_stale_socket(path: str) -> None:
    """Make way for our socket: remove a dead one, refuse to steal a live one."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    if os.path.exists(path) or os.path.islink(path):
        pid = socket_listener(path)
        if pid is not None:
            raise RuntimeError(f"another seqd (pid {pid}) is already listening on {path}")
        os.unlink(path)


def socket_listener(path: str) -> int | None:
    """The pid of the process listening on the Unix socket ``path`` (as the kernel
    recorded it when it called ``listen``; 0 if it cannot tell), or None when nothing
    answers there (no file, or a stale one). Blocking: at most a second."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(path)
        return peer_credentials(probe)[0]
    except OSError:
        return None
    finally:
        probe.close()
