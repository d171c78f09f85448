"""The Unix-socket edge: the listening sockets and every connection on them.

Each connection (``seqd.rpc.connection``) frames, orders and answers its own lines;
the server admits it (per-uid caps, slots kept for admins: ``seqd.rpc.limits``),
tracks its slow requests, closes the idle ones, and ends them all at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Callable, Iterable

from seqd.errors import InvalidRequest
from seqd.model.roles import Role
from seqd.rpc.connection import Connection
from seqd.rpc.dispatch import Dispatcher
from seqd.rpc.limits import Budget, WireLimits
from seqd.rpc.peer import peer_credentials

RoleOf = Callable[[int, int, Callable[[], Iterable[int]]], Role]
"""``role_of(uid, gid, groups)``: a peer's role; ``groups()`` gives its supplementary
groups, asked for only when needed."""
IDLE_SWEEP_S = 5.0
"""The longest pause between two looks for idle connections."""


class Server:
    """Owns the listening sockets and every connection."""

    def __init__(self, dispatcher: Dispatcher, *, limits: WireLimits, role_of: RoleOf) -> None:
        self.dispatcher = dispatcher
        self.limits = limits
        self.budget = Budget(limits)
        self.role_of = role_of
        self.connections: set[Connection] = set()
        self._servers: list[asyncio.AbstractServer] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.TimerHandle | None = None

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
        self._sweep_later()

    async def listen_socket(self, sock: socket.socket) -> None:
        """Serve an inherited listening socket (systemd socket activation)."""
        server = await asyncio.get_running_loop().create_unix_server(
            lambda: Connection(self), sock=sock, backlog=1024
        )
        self._servers.append(server)
        self._sweep_later()

    def admit(self, conn: Connection) -> InvalidRequest | None:
        """Take ``conn`` in, or say why not (``Budget.admit``)."""
        refused = self.budget.admit(conn.caller.uid, conn.caller.admin)
        if refused is None:
            self.connections.add(conn)
        return refused

    def forget(self, conn: Connection) -> None:
        if conn in self.connections:
            self.connections.discard(conn)
            self.budget.leave(conn.caller.uid)

    def _sweep_later(self) -> None:
        timeout = self.limits.idle_timeout_s
        if timeout > 0 and self._sweeper is None:
            delay = min(IDLE_SWEEP_S, timeout / 4)
            self._sweeper = asyncio.get_running_loop().call_later(delay, self._sweep)

    def _sweep(self) -> None:
        """Close the connections that held nothing and sent no request for
        ``idle_timeout_s`` (a partial line is not a request: a trickle keeps nothing
        open)."""
        self._sweeper = None
        deadline = time.monotonic() - self.limits.idle_timeout_s
        for conn in [c for c in self.connections if c.last_active < deadline]:
            if not conn.busy() and not conn.closed:
                conn.close()
        if self._servers:
            self._sweep_later()

    def track(self, task: asyncio.Task[None]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop_accepting(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
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
