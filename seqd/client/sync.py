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

from seqd.client._calls import END, End, Exchange, Listen, Session, next_item
from seqd.client._codec import (
    NOTIFICATION_BACKLOG,
    ClientError,
    ProtocolError,
    connect_failed,
    connection_lost,
    no_reply,
    parse_line,
    responses,
    subscription_lost,
)
from seqd.client._methods import Methods
from seqd.client._peer import check_peer

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections import deque
    from collections.abc import Callable, Iterable, Iterator
    from types import TracebackType
    from typing import Any, TypeVar

    from seqd.client._codec import Codec, Message
    from seqd.client._declare import Steps, Stream
    from seqd.client.notification import Notification

    T = TypeVar("T")
else:
    # collections.deque itself, from the C module: ``collections`` would add ~2 ms of
    # imports (operator, reprlib, keyword...) to seqctl's start-up for this one name.
    # The type checker has no stub for ``_collections``, so it sees the public name.
    from _collections import deque

READ_CHUNK = 64 * 1024
"""Bytes asked of the socket per read; a reply line may span any number of them."""


class Client(Methods, Session):
    """A synchronous seqd client.

    ``socket`` defaults to ``--socket``-style resolution (``$SEQD_SOCKET``, the user's
    daemon, the system daemon). ``timeout`` bounds each call (None: wait forever); calls
    that wait on the server (``wait``, ``runs.wait``) get their wait added on top.
    Notifications the server sends go to ``on_notification`` if given, else they are
    kept in :attr:`notifications` (the newest ``NOTIFICATION_BACKLOG``).

    Right after connecting, before sending anything, it checks who listens on the
    socket (``SO_PEERCRED``): only the caller's own uid, root, ``trusted_uids``,
    ``$SEQD_TRUSTED_UIDS`` or the owner of a folder nobody else can write to; anyone
    else is an :class:`~seqd.client.UntrustedDaemon` (a :class:`DaemonUnreachable`).

    ``typed`` (the default) decodes each result with msgspec into the method's Struct
    from ``seqd.rpc.protocol`` / ``seqd.model.runs`` (or the ``result_type`` asked for). With
    ``typed=False`` results are decoded by the standard library (its C JSON scanner,
    ``seqd.rpc.strictjson``), JSON objects as :class:`~seqd.client.AttrDict` — the same
    members, read as attributes or as dict keys — and ``result_type`` is ignored;
    nothing imports msgspec then, which is what ``seqctl`` needs to start fast. The
    methods' declared return types are the Structs either way: attribute reads
    type-check alike, ``isinstance`` does not. The methods are ``_methods``'s, shared
    with :class:`~seqd.client.AsyncClient`; this class only moves the bytes.
    """

    def __init__(
        self,
        socket: str | None = None,
        timeout: float | None = 30.0,
        *,
        on_notification: Callable[[Notification], None] | None = None,
        typed: bool = True,
        trusted_uids: Iterable[int] = (),
    ) -> None:
        codec: Codec
        if typed:
            from seqd.client._typed import CODEC as codec
        else:
            from seqd.client._plain import CODEC as codec
        super().__init__(socket, timeout, codec, trusted_uids)
        self.typed = typed
        self.notifications: deque[Notification] = deque(maxlen=NOTIFICATION_BACKLOG)
        self._on_notification = on_notification or self.notifications.append
        self._sock: _socket.socket | None = None
        self._buffer = bytearray()  # what was received after the last complete line

    # -- connection -------------------------------------------------------------------

    def connect(self) -> None:
        """Open the connection now (calls do it by themselves when needed); again
        when the daemon closed it meanwhile (an idle connection is closed after
        ``[limits] idle_timeout_s``): nothing was sent on it, so nothing is lost."""
        if self._sock is not None:
            if not _closed_by_peer(self._sock):
                return
            self.close()
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
            check_peer(sock, self.socket_path, self.trusted_uids)
        except OSError as exc:
            sock.close()
            raise connect_failed(self.socket_path, exc) from None
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        self._buffer.clear()

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock = None
        self._buffer.clear()
        self._forget_subscriptions()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- running a method's steps (see _calls) ------------------------------------------

    def _unary(self, steps: Steps[T], /) -> T:
        try:
            exchange = steps.send(None)
            while True:
                exchange = steps.send(self._send(exchange))
        except StopIteration as stop:
            value: T = stop.value
            return value

    def _stream(self, steps: Stream[T], /) -> Iterator[T]:
        try:
            while True:
                item = self._unary(next_item(steps))
                if isinstance(item, End):
                    return
                yield item
        finally:
            steps.close()
            self._unsubscribe_left()

    def _unsubscribe_left(self) -> None:
        """End on the daemon the subscriptions whose loop the caller left."""
        while self._leaving and self._sock is not None:
            try:
                self.call("events.unsubscribe", {"id": self._leaving.pop()})
            except ClientError:
                pass  # gone already (the connection dropped, or it was cut meanwhile)

    def _event_buffer(self) -> deque[Any]:
        return deque()

    def _notify(self, note: Notification) -> None:
        self._on_notification(note)

    # -- the bytes ----------------------------------------------------------------------

    def _send(self, exchange: Exchange) -> Any:
        """Send ``exchange``, wait for its replies; what they come to."""
        if isinstance(exchange, Listen):
            return self._listen(exchange)
        self._number(exchange)
        self.connect()
        assert self._sock is not None
        try:
            self._sock.settimeout(exchange.timeout)
            self._sock.sendall(exchange.line)
            replies = self._read_replies(self._sock, exchange.ids)
            self.replies += len(replies)
        except TimeoutError:
            self.close()
            raise no_reply(self.socket_path, exchange.timeout) from None
        except OSError as exc:
            self.close()
            raise connection_lost(self.socket_path, exc) from None
        except BaseException:
            # Garbage, an id-less error or an interrupt: the stream's state is unknown.
            self.close()
            raise
        return exchange.result(replies)

    def _read_replies(self, sock: _socket.socket, ids: tuple[int, ...]) -> dict[int, Message]:
        pending = set(ids)
        replies: dict[int, Message] = {}
        while pending:
            raw = self._readline(sock)
            if not raw.endswith(b"\n"):
                raise connection_lost(self.socket_path)
            for msg in responses(parse_line(self._codec, raw), self._notified):
                if not isinstance(msg.id, int) or msg.id not in pending:
                    raise ProtocolError(f"reply to a request never sent (id {msg.id!r})")
                pending.discard(msg.id)
                replies[msg.id] = msg
                self._replied(msg)
        return replies

    def _listen(self, listen: Listen) -> Any:
        """The next event of a subscription: kept already, or read off the socket (as
        long as the subscription's deadline allows: events come when they come); END
        once the deadline has passed."""
        listen.number(self._codec, 0, None)
        buffer = self._events.get(listen.subscription)
        sock = self._sock
        if buffer is None or sock is None:
            raise subscription_lost(self.socket_path, listen.subscription)
        try:
            while not buffer:
                remaining = listen.remaining()
                if remaining == 0:
                    return END
                sock.settimeout(remaining)
                try:
                    raw = self._readline(sock)
                except TimeoutError:
                    return END  # what was read of a line stays in the buffer
                if not raw.endswith(b"\n"):
                    raise connection_lost(self.socket_path)
                for msg in responses(parse_line(self._codec, raw), self._notified):
                    raise ProtocolError(f"reply to a request never sent (id {msg.id!r})")
        except OSError as exc:
            self.close()
            raise connection_lost(self.socket_path, exc) from None
        except BaseException:
            self.close()  # an interrupt or garbage: the stream's state is unknown
            raise
        return listen.event(buffer.popleft())

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


def _closed_by_peer(sock: _socket.socket) -> bool:
    """Whether the daemon closed ``sock`` (end of stream waiting to be read)."""
    timeout = sock.gettimeout()
    sock.setblocking(False)
    try:
        return sock.recv(1, _socket.MSG_PEEK) == b""
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True
    finally:
        sock.settimeout(timeout)
