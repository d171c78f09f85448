"""The blocking client: plain ``socket`` + msgspec, so ``seqctl`` starts fast.

One connection, opened on first use and reused; one call in flight at a time (a batch
is one call). Not thread-safe: give each thread its own Client. After a timeout, a lost
connection, garbage or an interrupt the connection is dropped, so a late reply can never
be taken for the answer to the next call; the next call reconnects.
"""

from __future__ import annotations

import socket as _socket
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any, BinaryIO, TypeVar, cast, overload

from msgspec import UnsetType

from seqd.client import _codec
from seqd.client._codec import (
    NOTIFICATION_BACKLOG,
    Incoming,
    Notification,
    ProtocolError,
)
from seqd.models import Run, RunStatus, TaskDef, TaskSummary
from seqd.paths import client_socket
from seqd.protocol import (
    ListResult,
    LogsResult,
    PluginInfo,
    PluginsResult,
    ReloadResult,
    ShutdownResult,
    StatusResult,
    TaskListResult,
    ValidateResult,
)

T = TypeVar("T")


class Client:
    """A synchronous seqd client.

    ``socket`` defaults to ``--socket``-style resolution (``$SEQD_SOCKET``, the user's
    daemon, the system daemon). ``timeout`` bounds each call (None: wait forever); calls
    that wait on the server (``wait``, ``runs.wait``) get their wait added on top.
    Notifications the server sends go to ``on_notification`` if given, else they are
    kept in :attr:`notifications` (the newest ``NOTIFICATION_BACKLOG``).
    """

    def __init__(
        self,
        socket: str | None = None,
        timeout: float | None = 30.0,
        *,
        on_notification: Callable[[Notification], None] | None = None,
    ) -> None:
        self.socket_path = client_socket(socket)
        self.timeout = timeout
        self.notifications: deque[Notification] = deque(maxlen=NOTIFICATION_BACKLOG)
        self._on_notification = on_notification or self.notifications.append
        self._sock: _socket.socket | None = None
        self._rfile: BinaryIO | None = None
        self._last_id = 0

    # -- connection -------------------------------------------------------------------

    def connect(self) -> None:
        """Open the connection now (calls do it by themselves when needed)."""
        if self._sock is not None:
            return
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError as exc:
            sock.close()
            raise _codec.connect_failed(self.socket_path, exc) from None
        self._sock = sock
        self._rfile = cast(BinaryIO, sock.makefile("rb"))

    def close(self) -> None:
        if self._rfile is not None:
            self._rfile.close()
        if self._sock is not None:
            self._sock.close()
        self._sock = None
        self._rfile = None

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- generic calls ----------------------------------------------------------------

    @overload
    def call(self, method: str, params: Any = None, result_type: None = None) -> Any: ...
    @overload
    def call(self, method: str, params: Any, result_type: type[T]) -> T: ...

    def call(self, method: str, params: Any = None, result_type: Any = None) -> Any:
        """Call ``method`` with ``params`` (a dict or a msgspec Struct) and return the
        result decoded as ``result_type`` (default: the method's documented type).
        Raises :class:`RpcError` when the daemon answers with an error."""
        self._last_id += 1
        id = self._last_id
        timeout = _codec.call_timeout(self.timeout, [_codec.server_wait(method, params)])
        replies = self._exchange(_codec.encode_request(id, method, params), {id}, timeout)
        return _codec.decode_result(replies[id], method, result_type)

    def batch(self, calls: Sequence[tuple[str, Any]]) -> list[Any]:
        """Send ``[(method, params), ...]`` as one JSON-RPC batch; return each result,
        or the :class:`RpcError` for an entry the daemon refused, in the given order."""
        if not calls:
            return []
        ids = list(range(self._last_id + 1, self._last_id + 1 + len(calls)))
        self._last_id = ids[-1]
        waits = [_codec.server_wait(m, p) for m, p in calls]
        timeout = _codec.call_timeout(self.timeout, waits)
        line = _codec.encode_batch((i, m, p) for i, (m, p) in zip(ids, calls, strict=True))
        replies = self._exchange(line, set(ids), timeout)
        return [_codec.outcome(replies[i], m) for i, (m, _) in zip(ids, calls, strict=True)]

    def _exchange(self, line: bytes, ids: set[int], timeout: float | None) -> dict[int, Incoming]:
        self.connect()
        assert self._sock is not None and self._rfile is not None
        try:
            self._sock.settimeout(timeout)
            self._sock.sendall(line)
            return self._read_replies(self._rfile, ids)
        except TimeoutError:
            self.close()
            raise _codec.no_reply(self.socket_path, timeout) from None
        except OSError as exc:
            self.close()
            raise _codec.connection_lost(self.socket_path, exc) from None
        except BaseException:
            # Garbage, an id-less error or an interrupt: the stream's state is unknown.
            self.close()
            raise

    def _read_replies(self, rfile: BinaryIO, ids: set[int]) -> dict[int, Incoming]:
        pending = set(ids)
        replies: dict[int, Incoming] = {}
        while pending:
            raw = rfile.readline()
            if not raw.endswith(b"\n"):
                raise _codec.connection_lost(self.socket_path)
            for msg in _codec.responses(_codec.parse_line(raw), self._on_notification):
                if msg.id is None and not isinstance(msg.error, UnsetType):
                    # The daemon could not tell which request this answers.
                    raise _codec.to_rpc_error(msg.error)
                if not isinstance(msg.id, int) or msg.id not in pending:
                    raise ProtocolError(f"reply to a request never sent (id {msg.id!r})")
                pending.discard(msg.id)
                replies[msg.id] = msg
        return replies

    # -- typed helpers ------------------------------------------------------------------

    def ping(self) -> str:
        return self.call("daemon.ping", None, str)

    def status(self) -> StatusResult:
        return self.call("daemon.status", None, StatusResult)

    def reload(self) -> ReloadResult:
        return self.call("daemon.reload", None, ReloadResult)

    def shutdown(self) -> ShutdownResult:
        return self.call("daemon.shutdown", None, ShutdownResult)

    def plugins(self) -> list[PluginInfo]:
        return self.call("plugins.list", None, PluginsResult).plugins

    def tasks(self, tag: str | None = None) -> list[TaskSummary]:
        return self.call(*_codec.tasks(tag), TaskListResult).tasks

    def task(self, name: str) -> TaskDef:
        return self.call(*_codec.task("tasks.get", name), TaskDef)

    def validate(self, name: str) -> ValidateResult:
        return self.call(*_codec.task("tasks.validate", name), ValidateResult)

    def submit(
        self,
        task: str,
        input: dict[str, Any] | None = None,
        *,
        wait: bool = False,
        timeout_s: float | None = None,
        idempotency_key: str | None = None,
        priority: int = 0,
    ) -> Run:
        """Queue a run; with ``wait`` return once it ended (or ``timeout_s`` passed)."""
        call = _codec.submit(task, input, wait, timeout_s, idempotency_key, priority)
        return self.call(*call, Run)

    def get_run(self, id: str) -> Run:
        return self.call(*_codec.get_run(id), Run)

    def wait(self, id: str, timeout_s: float | None = None) -> Run:
        """The run once finished, or as it is after ``timeout_s`` (then not terminal)."""
        return self.call(*_codec.wait(id, timeout_s), Run)

    def list_runs(
        self,
        task: str | None = None,
        status: RunStatus | None = None,
        parent_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> ListResult:
        return self.call(*_codec.list_runs(task, status, parent_id, limit, cursor), ListResult)

    def iter_runs(
        self,
        task: str | None = None,
        status: RunStatus | None = None,
        parent_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Iterator[Run]:
        """Every matching run, newest first (from ``cursor`` on), ``limit`` per page."""
        while True:
            page = self.list_runs(task, status, parent_id, limit, cursor)
            yield from page.runs
            if not page.next_cursor or not page.runs:
                return
            cursor = page.next_cursor

    def cancel(self, id: str, reason: str | None = None) -> Run:
        return self.call(*_codec.cancel(id, reason), Run)

    def logs(self, id: str, after: int = 0, limit: int = 1000) -> LogsResult:
        return self.call(*_codec.logs(id, after, limit), LogsResult)

    def discover(self) -> dict[str, Any]:
        """The API as an OpenRPC document."""
        return cast(dict[str, Any], self.call("rpc.discover"))
