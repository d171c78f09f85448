"""The asyncio client: many calls in flight on one connection.

One reader task owns the stream and routes each response to the future waiting on its
id, so calls pipeline freely; notifications go to a callback or :attr:`notifications`.
Request building and reply routing are shared with the sync client (``_codec``);
results are always typed (the msgspec codec, ``_typed``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from types import TracebackType
from typing import Any, TypeVar, cast, overload

from seqd.client import _codec
from seqd.client._codec import (
    NOTIFICATION_BACKLOG,
    ClientError,
    DaemonUnreachable,
    Message,
    ProtocolError,
    WireError,
)
from seqd.client._typed import CODEC
from seqd.client.notification import Notification
from seqd.config.paths import client_socket
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

logger = logging.getLogger(__name__)

T = TypeVar("T")

READ_LIMIT = 256 * 1024 * 1024
"""Longest reply line accepted (a page of 1000 long log lines fits with room to spare)."""


class _Connection:
    """One open stream, its reader task and the calls waiting on it."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.pending: dict[int, asyncio.Future[Message]] = {}
        self.error: ClientError | None = None
        self.reader_task: asyncio.Task[None] | None = None

    def fail(self, error: ClientError) -> None:
        """Mark the connection dead and fail every call still waiting on it."""
        if self.error is None:
            self.error = error
        for fut in self.pending.values():
            if not fut.done():
                fut.set_exception(error)
        self.pending.clear()
        self.writer.close()


class AsyncClient:
    """An asyncio seqd client with the same methods as :class:`Client`, as coroutines.

    Safe to share between tasks of one event loop: concurrent calls are pipelined on a
    single connection. ``timeout`` bounds each call (None: no bound), plus any wait the
    call asks the server for.
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
        self.notifications: asyncio.Queue[Notification] = asyncio.Queue(NOTIFICATION_BACKLOG)
        self._on_notification = on_notification
        self._conn: _Connection | None = None
        self._lock = asyncio.Lock()
        self._last_id = 0

    # -- connection -------------------------------------------------------------------

    async def connect(self) -> None:
        """Open the connection now (calls do it by themselves when needed)."""
        await self._connection()

    async def _connection(self) -> _Connection:
        async with self._lock:
            if self._conn is not None and self._conn.error is None:
                return self._conn
            try:
                async with asyncio.timeout(self.timeout):
                    reader, writer = await asyncio.open_unix_connection(
                        self.socket_path, limit=READ_LIMIT
                    )
            except TimeoutError as exc:
                raise _codec.connect_failed(self.socket_path, exc) from None
            except OSError as exc:
                raise _codec.connect_failed(self.socket_path, exc) from None
            conn = _Connection(writer)
            conn.reader_task = asyncio.create_task(self._read_loop(conn, reader))
            self._conn = conn
            return conn

    async def _read_loop(self, conn: _Connection, reader: asyncio.StreamReader) -> None:
        error: ClientError = _codec.connection_lost(self.socket_path)
        try:
            while True:
                line = await reader.readline()
                if not line.endswith(b"\n"):
                    return  # end of stream, maybe in the middle of a line
                self._route(conn, _codec.parse_line(CODEC, line))
        except ClientError as exc:
            error = exc
        except ValueError:  # the stream's limit: a line longer than READ_LIMIT
            error = ProtocolError(f"reply line longer than {READ_LIMIT} bytes")
        except OSError as exc:
            error = _codec.connection_lost(self.socket_path, exc)
        finally:
            # Whatever ended the loop (even a cancel or a bug), no call waits forever.
            conn.fail(error)

    def _route(self, conn: _Connection, messages: list[Message]) -> None:
        for msg in _codec.responses(messages, self._notify):
            if msg.id is None and isinstance(msg.error, WireError):
                # Not attributable to one call: every waiting call learns of it.
                raise _codec.to_rpc_error(msg.error)
            fut = conn.pending.pop(msg.id, None) if isinstance(msg.id, int) else None
            if fut is None:
                logger.debug("dropping reply to id %r (abandoned or never sent)", msg.id)
            elif not fut.done():
                fut.set_result(msg)

    def _notify(self, note: Notification) -> None:
        if self._on_notification is not None:
            try:
                self._on_notification(note)
            except Exception:  # a broken callback must not stop the reader
                logger.exception("notification callback failed")
            return
        if self.notifications.full():
            self.notifications.get_nowait()  # keep the newest
        self.notifications.put_nowait(note)

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        conn.fail(
            DaemonUnreachable(
                self.socket_path, "the client was closed during the call", "call again to reconnect"
            )
        )
        if conn.reader_task is not None:
            conn.reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await conn.reader_task
        with contextlib.suppress(OSError):
            await conn.writer.wait_closed()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- generic calls ----------------------------------------------------------------

    @overload
    async def call(self, method: str, params: Any = None, result_type: None = None) -> Any: ...
    @overload
    async def call(self, method: str, params: Any, result_type: type[T]) -> T: ...

    async def call(self, method: str, params: Any = None, result_type: Any = None) -> Any:
        """See :meth:`Client.call`."""
        self._last_id += 1
        id = self._last_id
        timeout = _codec.call_timeout(self.timeout, [_codec.server_wait(method, params)])
        line = _codec.encode_request(CODEC, id, method, params)
        replies = await self._exchange(line, [id], timeout)
        return _codec.decode_result(CODEC, replies[id], method, result_type)

    async def batch(self, calls: Sequence[tuple[str, Any]]) -> list[Any]:
        """See :meth:`Client.batch`."""
        if not calls:
            return []
        ids = list(range(self._last_id + 1, self._last_id + 1 + len(calls)))
        self._last_id = ids[-1]
        waits = [_codec.server_wait(m, p) for m, p in calls]
        timeout = _codec.call_timeout(self.timeout, waits)
        requests = ((i, m, p) for i, (m, p) in zip(ids, calls, strict=True))
        replies = await self._exchange(_codec.encode_batch(CODEC, requests), ids, timeout)
        return [_codec.outcome(CODEC, replies[i], m) for i, (m, _) in zip(ids, calls, strict=True)]

    async def _exchange(
        self, line: bytes, ids: list[int], timeout: float | None
    ) -> dict[int, Message]:
        conn = await self._connection()
        loop = asyncio.get_running_loop()
        futures = {i: loop.create_future() for i in ids}
        # No await between the liveness check in _connection() and here: if the
        # connection dies from now on, conn.fail() reaches these futures.
        conn.pending.update(futures)
        try:
            conn.writer.write(line)
            try:
                async with asyncio.timeout(timeout):
                    await conn.writer.drain()
                    return {i: await fut for i, fut in futures.items()}
            except TimeoutError:
                raise _codec.no_reply(self.socket_path, timeout) from None
        except OSError as exc:
            conn.fail(_codec.connection_lost(self.socket_path, exc))
            raise _codec.connection_lost(self.socket_path, exc) from None
        finally:
            for i, fut in futures.items():
                conn.pending.pop(i, None)
                if not fut.done():
                    fut.cancel()
                elif not fut.cancelled():
                    fut.exception()  # mark retrieved: one failure is reported, not N

    # -- typed helpers ------------------------------------------------------------------

    async def ping(self) -> str:
        return await self.call("daemon.ping", None, str)

    async def status(self) -> StatusResult:
        return await self.call("daemon.status", None, StatusResult)

    async def reload(self) -> ReloadResult:
        return await self.call("daemon.reload", None, ReloadResult)

    async def shutdown(self) -> ShutdownResult:
        return await self.call("daemon.shutdown", None, ShutdownResult)

    async def plugins(self) -> list[PluginInfo]:
        return (await self.call("plugins.list", None, PluginsResult)).plugins

    async def tasks(self, tag: str | None = None) -> list[TaskSummary]:
        return (await self.call(*_codec.tasks(tag), TaskListResult)).tasks

    async def task(self, name: str) -> TaskDef:
        return await self.call(*_codec.task("tasks.get", name), TaskDef)

    async def validate(self, name: str) -> ValidateResult:
        return await self.call(*_codec.task("tasks.validate", name), ValidateResult)

    async def submit(
        self,
        task: str,
        input: dict[str, Any] | None = None,
        *,
        wait: bool = False,
        timeout_s: float | None = None,
        idempotency_key: str | None = None,
        priority: int = 0,
    ) -> Run:
        call = _codec.submit(task, input, wait, timeout_s, idempotency_key, priority)
        return await self.call(*call, Run)

    async def get_run(self, id: str) -> Run:
        return await self.call(*_codec.get_run(id), Run)

    async def wait(self, id: str, timeout_s: float | None = None) -> Run:
        return await self.call(*_codec.wait(id, timeout_s), Run)

    async def list_runs(
        self,
        task: str | None = None,
        status: RunStatus | None = None,
        parent_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> ListResult:
        call = _codec.list_runs(task, status, parent_id, limit, cursor)
        return await self.call(*call, ListResult)

    async def iter_runs(
        self,
        task: str | None = None,
        status: RunStatus | None = None,
        parent_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> AsyncIterator[Run]:
        while True:
            page = await self.list_runs(task, status, parent_id, limit, cursor)
            for run in page.runs:
                yield run
            if not page.next_cursor or not page.runs:
                return
            cursor = page.next_cursor

    async def cancel(self, id: str, reason: str | None = None) -> Run:
        return await self.call(*_codec.cancel(id, reason), Run)

    async def signal(self, id: str, name: str, data: Any = None) -> Run:
        return await self.call(*_codec.signal(id, name, data), Run)

    async def retry(self, id: str) -> Run:
        return await self.call(*_codec.retry(id), Run)

    async def logs(self, id: str, after: int = 0, limit: int = 1000) -> LogsResult:
        return await self.call(*_codec.logs(id, after, limit), LogsResult)

    async def steps(self, id: str, after: int = 0, limit: int = 1000) -> StepsResult:
        return await self.call(*_codec.steps(id, after, limit), StepsResult)

    async def tools(self) -> list[ToolInfo]:
        return (await self.call("tools.list", None, ToolListResult)).tools

    async def tool(self, name: str) -> ToolInfo:
        return await self.call("tools.get", {"name": name}, ToolInfo)

    async def call_tool(self, name: str, params: dict[str, Any] | None = None) -> ToolCallResult:
        """Call a tool; ``.result`` is what it returned."""
        return await self.call("tools.call", {"name": name, "params": params or {}}, ToolCallResult)

    async def discover(self) -> dict[str, Any]:
        return cast(dict[str, Any], await self.call("rpc.discover"))
