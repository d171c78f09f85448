"""The asyncio client: many calls in flight on one connection.

One reader task owns the stream and routes each response to the future waiting on its
id, so calls pipeline freely; notifications go to a callback or :attr:`notifications`.
The methods, and how a call becomes a line and its replies a result, are shared with
the sync client (``_methods``, ``_calls``); this module only moves the bytes.
Results are always typed (the msgspec codec, ``_typed``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from seqd.client._calls import END, End, Exchange, Listen, Session, next_item
from seqd.client._codec import (
    NOTIFICATION_BACKLOG,
    ClientError,
    Message,
    ProtocolError,
    closed_during_call,
    connect_failed,
    connection_lost,
    no_reply,
    parse_line,
    responses,
    subscription_lost,
)
from seqd.client._methods import Methods
from seqd.client._peer import check_peer
from seqd.client._typed import CODEC
from seqd.client.notification import Notification

if TYPE_CHECKING:
    from seqd.client._declare import Steps, Stream

logger = logging.getLogger(__name__)

T = TypeVar("T")

READ_LIMIT = 256 * 1024 * 1024
"""Longest reply line accepted (a page of 1000 long log lines fits with room to spare)."""


class _Events(deque[Any]):
    """The events of one subscription, waiting to be taken; ``ready`` is set when one
    comes or the connection is lost (``error``)."""

    def __init__(self) -> None:
        super().__init__()
        self.ready = asyncio.Event()
        self.error: ClientError | None = None

    def append(self, params: Any) -> None:
        super().append(params)
        self.ready.set()

    def fail(self, error: ClientError) -> None:
        self.error = error
        self.ready.set()


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


class AsyncClient(Methods, Session):
    """An asyncio seqd client with the same methods as :class:`Client`, as coroutines
    (``iter_runs`` as an async iterator).

    Safe to share between tasks of one event loop: concurrent calls are pipelined on a
    single connection. It checks who listens before sending anything, as
    :class:`Client` does (``trusted_uids``). ``timeout`` bounds each call (None: no
    bound), plus any wait the call asks the server for.
    """

    def __init__(
        self,
        socket: str | None = None,
        timeout: float | None = 30.0,
        *,
        on_notification: Callable[[Notification], None] | None = None,
        trusted_uids: Iterable[int] = (),
    ) -> None:
        super().__init__(socket, timeout, CODEC, trusted_uids)
        self.notifications: asyncio.Queue[Notification] = asyncio.Queue(NOTIFICATION_BACKLOG)
        self._on_notification = on_notification
        self._conn: _Connection | None = None
        self._lock = asyncio.Lock()

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
            except OSError as exc:  # TimeoutError included
                raise connect_failed(self.socket_path, exc) from None
            try:
                check_peer(writer.get_extra_info("socket"), self.socket_path, self.trusted_uids)
            except BaseException:
                writer.close()
                raise
            conn = _Connection(writer)
            conn.reader_task = asyncio.create_task(self._read_loop(conn, reader))
            self._conn = conn
            return conn

    async def _read_loop(self, conn: _Connection, reader: asyncio.StreamReader) -> None:
        error: ClientError = connection_lost(self.socket_path)
        try:
            while True:
                line = await reader.readline()
                if not line.endswith(b"\n"):
                    return  # end of stream, maybe in the middle of a line
                self._route(conn, parse_line(CODEC, line))
        except ClientError as exc:
            error = exc
        except ValueError:  # the stream's limit: a line longer than READ_LIMIT
            error = ProtocolError(f"reply line longer than {READ_LIMIT} bytes")
        except OSError as exc:
            error = connection_lost(self.socket_path, exc)
        finally:
            # Whatever ended the loop (even a cancel or a bug), no call waits forever.
            conn.fail(error)
            for events in self._events.values():  # the subscriptions were on it
                events.fail(error)

    def _route(self, conn: _Connection, messages: list[Message]) -> None:
        # An error no call can take (null id) is raised by responses(): every waiting
        # call learns of it.
        for msg in responses(messages, self._notified):
            self._replied(msg)
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
        for events in self._events.values():
            events.fail(closed_during_call(self.socket_path))
        self._forget_subscriptions()
        conn.fail(closed_during_call(self.socket_path))
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

    # -- running a method's steps (see _calls) ------------------------------------------

    async def _unary(self, steps: Steps[T], /) -> T:
        try:
            exchange = steps.send(None)
            while True:
                exchange = steps.send(await self._send(exchange))
        except StopIteration as stop:
            value: T = stop.value
            return value

    async def _stream(self, steps: Stream[T], /) -> AsyncIterator[T]:
        try:
            while True:
                item = await self._unary(next_item(steps))
                if isinstance(item, End):
                    return
                yield item
        finally:
            steps.close()
            await self._unsubscribe_left()

    async def _unsubscribe_left(self) -> None:
        """End on the daemon the subscriptions whose loop the caller left."""
        while self._leaving and self._conn is not None and self._conn.error is None:
            try:
                await self.call("events.unsubscribe", {"id": self._leaving.pop()})
            except ClientError:
                pass  # gone already (the connection dropped, or it was cut meanwhile)

    def _event_buffer(self) -> _Events:
        return _Events()

    async def _listen(self, listen: Listen) -> Any:
        """The next event of a subscription, once there is one; END once the
        subscription's deadline has passed."""
        listen.number(CODEC, 0, None)
        events = self._events.get(listen.subscription)
        if events is None:
            raise subscription_lost(self.socket_path, listen.subscription)
        while not events:
            if events.error is not None:
                raise events.error
            events.ready.clear()
            try:
                async with asyncio.timeout(listen.remaining()):
                    await events.ready.wait()
            except TimeoutError:
                return END
        return listen.event(events.popleft())

    # -- the bytes ----------------------------------------------------------------------

    async def _send(self, exchange: Exchange) -> Any:
        """Send ``exchange``, wait for its replies; what they come to."""
        if isinstance(exchange, Listen):
            return await self._listen(exchange)
        self._number(exchange)
        conn = await self._connection()
        loop = asyncio.get_running_loop()
        futures = {i: loop.create_future() for i in exchange.ids}
        # No await between the liveness check in _connection() and here: if the
        # connection dies from now on, conn.fail() reaches these futures.
        conn.pending.update(futures)
        try:
            conn.writer.write(exchange.line)
            try:
                async with asyncio.timeout(exchange.timeout):
                    await conn.writer.drain()
                    replies = {i: await fut for i, fut in futures.items()}
                    self.replies += len(replies)
            except TimeoutError:
                raise no_reply(self.socket_path, exchange.timeout) from None
        except OSError as exc:
            conn.fail(connection_lost(self.socket_path, exc))
            raise connection_lost(self.socket_path, exc) from None
        finally:
            for i, fut in futures.items():
                conn.pending.pop(i, None)
                if not fut.done():
                    fut.cancel()
                elif not fut.cancelled():
                    fut.exception()  # mark retrieved: one failure is reported, not N
        return exchange.result(replies)
