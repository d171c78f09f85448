"""The blocking client: a bare socket, so ``seqctl`` starts fast.

One connection, opened on first use and reused; one call in flight at a time (a batch
is one call). Not thread-safe: give each thread its own Client. After a timeout, a lost
connection, garbage or an interrupt the connection is dropped, so a late reply can never
be taken for the answer to the next call; the next call reconnects.

Neither this module nor ``Client(typed=False)`` imports msgspec, ``typing`` or the
Struct modules: the typed codec, and with it ``seqd.rpc.protocol``, is imported by the
first typed Client. The socket is ``_socket``'s, the C type under ``socket.socket``:
the ``socket`` module adds only what this client does not use (``makefile``, enums of
its constants), for ~2.5 ms of seqctl's start-up; lines are split here instead.
"""

from __future__ import annotations

import _socket

from seqd.client import _codec
from seqd.client._codec import NOTIFICATION_BACKLOG, ProtocolError, WireError
from seqd.config.paths import client_socket

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections import deque
    from collections.abc import Callable, Iterator, Sequence
    from types import TracebackType
    from typing import Any, TypeVar, overload

    from seqd.client._codec import Codec, Message
    from seqd.client.notification import Notification
    from seqd.model.runs import Run, RunStatus
    from seqd.model.tasks import TaskDef, TaskSummary
    from seqd.rpc.protocol import (
        ListResult,
        LogsResult,
        PluginInfo,
        PluginsResult,
        ReloadResult,
        ShutdownResult,
        StatusResult,
        StepsResult,
        TaskListResult,
        ToolCallResult,
        ToolInfo,
        ToolListResult,
        ValidateResult,
    )

    T = TypeVar("T")
else:
    # collections.deque itself, from the C module: ``collections`` would add ~2 ms of
    # imports (operator, reprlib, keyword...) to seqctl's start-up for this one name.
    # The type checker has no stub for ``_collections``, so it sees the public name.
    from _collections import deque

READ_CHUNK = 64 * 1024
"""Bytes asked of the socket per read; a reply line may span any number of them."""


class Client:
    """A synchronous seqd client.

    ``socket`` defaults to ``--socket``-style resolution (``$SEQD_SOCKET``, the user's
    daemon, the system daemon). ``timeout`` bounds each call (None: wait forever); calls
    that wait on the server (``wait``, ``runs.wait``) get their wait added on top.
    Notifications the server sends go to ``on_notification`` if given, else they are
    kept in :attr:`notifications` (the newest ``NOTIFICATION_BACKLOG``).

    ``typed`` (the default) decodes each result with msgspec into the method's Struct
    from ``seqd.rpc.protocol`` / ``seqd.model.runs`` (or the ``result_type`` asked for). With
    ``typed=False`` results are decoded by the standard library (its C JSON scanner,
    ``seqd.rpc.strictjson``), JSON objects as :class:`~seqd.client.AttrDict` — the same
    members, read as attributes or as dict keys — and ``result_type`` is ignored;
    nothing imports msgspec then, which is what ``seqctl`` needs to start fast. The
    helpers' declared return types are the Structs either way: attribute reads
    type-check alike, ``isinstance`` does not.
    """

    def __init__(
        self,
        socket: str | None = None,
        timeout: float | None = 30.0,
        *,
        on_notification: Callable[[Notification], None] | None = None,
        typed: bool = True,
    ) -> None:
        self.socket_path = client_socket(socket)
        self.timeout = timeout
        self.typed = typed
        self._codec: Codec
        if typed:
            from seqd.client._typed import CODEC as typed_codec

            self._codec = typed_codec
        else:
            from seqd.client._plain import CODEC as plain_codec

            self._codec = plain_codec
        self.notifications: deque[Notification] = deque(maxlen=NOTIFICATION_BACKLOG)
        self._on_notification = on_notification or self.notifications.append
        self._sock: _socket.socket | None = None
        self._buffer = bytearray()  # what was received after the last complete line
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
        self._buffer.clear()

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock = None
        self._buffer.clear()

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

    if TYPE_CHECKING:

        @overload
        def call(self, method: str, params: Any = None, result_type: None = None) -> Any: ...
        @overload
        def call(self, method: str, params: Any, result_type: type[T]) -> T: ...

    def call(self, method: str, params: Any = None, result_type: Any = None) -> Any:
        """Call ``method`` with ``params`` (a dict or a msgspec Struct) and return the
        result decoded as ``result_type`` (default: the method's documented type; with
        ``typed=False``, plain JSON). Raises :class:`RpcError` when the daemon answers
        with an error."""
        self._last_id += 1
        id = self._last_id
        timeout = _codec.call_timeout(self.timeout, [_codec.server_wait(method, params)])
        line = _codec.encode_request(self._codec, id, method, params)
        replies = self._exchange(line, {id}, timeout)
        return _codec.decode_result(self._codec, replies[id], method, result_type)

    def batch(self, calls: Sequence[tuple[str, Any]]) -> list[Any]:
        """Send ``[(method, params), ...]`` as one JSON-RPC batch; return each result,
        or the :class:`RpcError` for an entry the daemon refused, in the given order."""
        if not calls:
            return []
        ids = list(range(self._last_id + 1, self._last_id + 1 + len(calls)))
        self._last_id = ids[-1]
        waits = [_codec.server_wait(m, p) for m, p in calls]
        timeout = _codec.call_timeout(self.timeout, waits)
        requests = ((i, m, p) for i, (m, p) in zip(ids, calls, strict=True))
        replies = self._exchange(_codec.encode_batch(self._codec, requests), set(ids), timeout)
        return [
            _codec.outcome(self._codec, replies[i], m) for i, (m, _) in zip(ids, calls, strict=True)
        ]

    def _exchange(self, line: bytes, ids: set[int], timeout: float | None) -> dict[int, Message]:
        self.connect()
        assert self._sock is not None
        try:
            self._sock.settimeout(timeout)
            self._sock.sendall(line)
            return self._read_replies(self._sock, ids)
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

    def _read_replies(self, sock: _socket.socket, ids: set[int]) -> dict[int, Message]:
        pending = set(ids)
        replies: dict[int, Message] = {}
        while pending:
            raw = self._readline(sock)
            if not raw.endswith(b"\n"):
                raise _codec.connection_lost(self.socket_path)
            messages = _codec.parse_line(self._codec, raw)
            for msg in _codec.responses(messages, self._on_notification):
                if msg.id is None and isinstance(msg.error, WireError):
                    # The daemon could not tell which request this answers.
                    raise _codec.to_rpc_error(msg.error)
                if not isinstance(msg.id, int) or msg.id not in pending:
                    raise ProtocolError(f"reply to a request never sent (id {msg.id!r})")
                pending.discard(msg.id)
                replies[msg.id] = msg
        return replies

    def _readline(self, sock: _socket.socket) -> bytes:
        """The next line with its ``\n``; without one if the peer closed mid-line."""
        buffer = self._buffer
        scanned = 0
        while True:
            end = buffer.find(b"\n", scanned)
            if end >= 0:
                with memoryview(buffer) as view:
                    line = view[: end + 1].tobytes()
                del buffer[: end + 1]
                return line
            scanned = len(buffer)
            chunk = sock.recv(READ_CHUNK)
            if not chunk:
                line = bytes(buffer)
                buffer.clear()
                return line
            if not buffer and chunk.find(b"\n") == len(chunk) - 1:
                return chunk  # the usual reply: exactly one whole line, not copied
            buffer += chunk

    # -- typed helpers (see the class docstring for typed=False) ------------------------------
    # ``call`` without result_type decodes into the method's documented type; the
    # annotated assignments give each helper its static type without importing it.

    def ping(self) -> str:
        answer: str = self.call("daemon.ping")
        return answer

    def status(self) -> StatusResult:
        result: StatusResult = self.call("daemon.status")
        return result

    def reload(self) -> ReloadResult:
        result: ReloadResult = self.call("daemon.reload")
        return result

    def shutdown(self) -> ShutdownResult:
        result: ShutdownResult = self.call("daemon.shutdown")
        return result

    def plugins(self) -> list[PluginInfo]:
        result: PluginsResult = self.call("plugins.list")
        return result.plugins

    def tasks(self, tag: str | None = None) -> list[TaskSummary]:
        result: TaskListResult = self.call(*_codec.tasks(tag))
        return result.tasks

    def task(self, name: str) -> TaskDef:
        result: TaskDef = self.call(*_codec.task("tasks.get", name))
        return result

    def validate(self, name: str) -> ValidateResult:
        result: ValidateResult = self.call(*_codec.task("tasks.validate", name))
        return result

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
        run: Run = self.call(*call)
        return run

    def get_run(self, id: str) -> Run:
        run: Run = self.call(*_codec.get_run(id))
        return run

    def wait(self, id: str, timeout_s: float | None = None) -> Run:
        """The run once finished, or as it is after ``timeout_s`` (then not terminal)."""
        run: Run = self.call(*_codec.wait(id, timeout_s))
        return run

    def list_runs(
        self,
        task: str | None = None,
        status: RunStatus | None = None,
        parent_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> ListResult:
        page: ListResult = self.call(*_codec.list_runs(task, status, parent_id, limit, cursor))
        return page

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
        run: Run = self.call(*_codec.cancel(id, reason))
        return run

    def signal(self, id: str, name: str, data: Any = None) -> Run:
        """Send signal ``name`` with ``data`` to a run (``ctx.wait_signal`` gets it)."""
        run: Run = self.call(*_codec.signal(id, name, data))
        return run

    def retry(self, id: str) -> Run:
        """A new run of a failed or cancelled run, with the same task and input."""
        run: Run = self.call(*_codec.retry(id))
        return run

    def logs(self, id: str, after: int = 0, limit: int = 1000) -> LogsResult:
        page: LogsResult = self.call(*_codec.logs(id, after, limit))
        return page

    def steps(self, id: str, after: int = 0, limit: int = 1000) -> StepsResult:
        """A run's journal (a flow's transitions and state outcomes) after ``after``."""
        page: StepsResult = self.call(*_codec.steps(id, after, limit))
        return page

    def tools(self) -> list[ToolInfo]:
        result: ToolListResult = self.call("tools.list")
        return result.tools

    def tool(self, name: str) -> ToolInfo:
        result: ToolInfo = self.call("tools.get", {"name": name})
        return result

    def call_tool(self, name: str, params: dict[str, Any] | None = None) -> ToolCallResult:
        """Call a tool; ``.result`` is what it returned."""
        result: ToolCallResult = self.call("tools.call", {"name": name, "params": params or {}})
        return result

    def discover(self) -> dict[str, Any]:
        """The API as an OpenRPC document."""
        doc: dict[str, Any] = self.call("rpc.discover")
        return doc
