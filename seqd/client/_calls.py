"""A method call as both clients run it, whatever their I/O: its *steps*, a
generator that yields each :class:`Exchange` it needs and is sent back its result;
the exchange (a :class:`Request` or a :class:`Batch`) gets its ids, its line and its
timeout from the client's :class:`Session`, and makes its replies a result.

Its own module because this is the request/response handling the sync and asyncio
clients share, so that each of them only does I/O: ``Client`` runs the steps with
blocking calls, ``AsyncClient`` with awaits, each in one small driver (``_unary``;
``_stream`` runs :func:`next_item` with it) around its ``_send``: send ``line``,
collect the replies to ``ids`` within ``timeout``, hand them to
:meth:`Exchange.result`. A ``unary`` method returns its steps' return value (a
coroutine of it on ``AsyncClient``); a ``stream`` method is iterated (``for`` /
``async for``) and its steps yield its items besides exchanges. An exchange that
fails fails the method with its error; the steps are dropped where they stand.

A new method is one definition in ``_methods``; a new kind of step is one branch in
each driver: ``subscribe`` sends a :class:`Subscribe` and then waits on a
:class:`Listen` for each event, which the drivers answer from the events the
:class:`Session` keeps for the subscription. How a steps function becomes a method
(:func:`unary`, :func:`stream`) is ``_declare``'s. Like ``_codec``, this module imports
neither msgspec nor ``typing``: it is on ``seqctl``'s start-up path.
"""

from __future__ import annotations

import time

from seqd.client._codec import (
    ABSENT,
    SubscriptionCut,
    decode_result,
    encode_batch,
    encode_request,
    notification,
    outcome,
)
from seqd.config.paths import client_socket

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Any, TypeVar

    from seqd.client._codec import Codec, Message
    from seqd.client._declare import Steps, Stream
    from seqd.client.notification import Notification

    T = TypeVar("T")


# -- exchanges -------------------------------------------------------------------------


class Exchange:
    """What a method asks its client to send. :meth:`number` makes it ready: ``ids``
    (the replies to wait for), ``line`` (the bytes, ``\\n``-terminated) and ``timeout``
    (the client's, plus any wait the call asks the server for)."""

    __slots__ = ("codec", "ids", "line", "timeout")

    codec: Codec
    ids: tuple[int, ...]
    line: bytes
    timeout: float | None

    def number(self, codec: Codec, first_id: int, base_timeout: float | None) -> None:
        raise NotImplementedError

    def result(self, replies: dict[int, Message]) -> Any:
        """What the replies to ``ids`` come to for the caller."""
        raise NotImplementedError


class Request(Exchange):
    """One call of ``method`` with ``params`` (a dict or a msgspec Struct); its result
    decoded as ``result_type`` (None: the method's documented type; the plain codec
    ignores it). :meth:`result` raises :class:`RpcError` for an error reply."""

    __slots__ = ("method", "params", "result_type")

    def __init__(self, method: str, params: Any = None, result_type: Any = None) -> None:
        self.method = method
        self.params = params
        self.result_type = result_type

    def number(self, codec: Codec, first_id: int, base_timeout: float | None) -> None:
        self.codec = codec
        self.ids = (first_id,)
        self.line = encode_request(codec, first_id, self.method, self.params)
        self.timeout = call_timeout(base_timeout, (server_wait(self.method, self.params),))

    def result(self, replies: dict[int, Message]) -> Any:
        return decode_result(self.codec, replies[self.ids[0]], self.method, self.result_type)


class Batch(Exchange):
    """``[(method, params), ...]`` as one JSON-RPC batch: :meth:`result` is each result,
    or the :class:`RpcError` of an entry the daemon refused, in the given order."""

    __slots__ = ("calls",)

    def __init__(self, calls: Sequence[tuple[str, Any]]) -> None:
        self.calls = calls

    def number(self, codec: Codec, first_id: int, base_timeout: float | None) -> None:
        self.codec = codec
        self.ids = tuple(range(first_id, first_id + len(self.calls)))
        numbered = zip(self.ids, self.calls, strict=True)
        self.line = encode_batch(codec, ((i, m, p) for i, (m, p) in numbered))
        self.timeout = call_timeout(base_timeout, [server_wait(m, p) for m, p in self.calls])

    def result(self, replies: dict[int, Message]) -> list[Any]:
        numbered = zip(self.ids, self.calls, strict=True)
        return [outcome(self.codec, replies[i], m) for i, (m, _) in numbered]


class Subscribe(Request):
    """``events.subscribe``: its reply opens a subscription, whose events the client
    keeps apart from the moment the reply is read (see :class:`Session`)."""

    __slots__ = ()

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__("events.subscribe", params)


class Listen(Exchange):
    """Wait for the next event of ``subscription`` until ``deadline`` (``time.monotonic``;
    None: no end): nothing is sent. The driver hands the event's params to
    :meth:`event`, or returns :data:`END` once the deadline has passed."""

    __slots__ = ("cut", "deadline", "subscription")

    def __init__(self, subscription: str, deadline: float | None = None) -> None:
        self.subscription = subscription
        self.deadline = deadline
        self.cut = False
        """The daemon ended it (so it need not be unsubscribed)."""

    def remaining(self) -> float | None:
        """Seconds left to wait (0 once past the deadline); None: no end."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.monotonic())

    def number(self, codec: Codec, first_id: int, base_timeout: float | None) -> None:
        self.codec = codec
        self.ids = ()
        self.line = b""
        self.timeout = None  # events come when they come

    def event(self, params: Any) -> Any:
        """The event of ``params``; raises :class:`SubscriptionCut` for a ``cut``."""
        event = self.codec.event(params)
        if event.topic == "cut":
            self.cut = True
            raise SubscriptionCut(self.subscription, event.reason, event.cursor)
        return event


class Session:
    """What either client keeps between calls, apart from its connection: where the
    daemon is, whom it may be (``_peer``), the base timeout, the codec, the last request
    id, and the events of its open subscriptions.

    The events of a subscription are kept apart (``_events``, by subscription id) from
    the moment the reply that opened it is read — before any event that follows it on
    the wire — until the subscription ends, so that none goes to ``on_notification``
    or is lost while another call is in flight. A client makes a buffer with
    ``_event_buffer`` (``append`` is called with each event's params)."""

    def __init__(
        self,
        socket: str | None,
        timeout: float | None,
        codec: Codec,
        trusted_uids: Iterable[int] = (),
    ) -> None:
        self.socket_path = client_socket(socket)
        self.timeout = timeout
        self.trusted_uids = frozenset(trusted_uids)
        """Besides the caller's own uid, root and ``$SEQD_TRUSTED_UIDS``: uids the
        daemon may run as (a system service's user, say)."""
        self._codec = codec
        self._last_id = 0
        self.replies = 0
        """Replies received so far (seqctl tells a malformed reply from its own
        mistakes by it)."""
        self._subscribing: set[int] = set()
        self._events: dict[str, Any] = {}
        self._leaving: list[str] = []
        """Subscriptions whose stream the caller left: the driver unsubscribes them."""

    def _number(self, exchange: Exchange) -> None:
        """Give ``exchange`` the next ids and make it ready to send."""
        exchange.number(self._codec, self._last_id + 1, self.timeout)
        if exchange.ids:
            self._last_id = exchange.ids[-1]
        if isinstance(exchange, Subscribe):
            self._subscribing.add(exchange.ids[0])

    def _event_buffer(self) -> Any:
        raise NotImplementedError

    def _replied(self, msg: Message) -> None:
        """A reply was read: if it opened a subscription, keep its events from now."""
        if msg.id in self._subscribing:
            self._subscribing.discard(msg.id)
            if msg.error is ABSENT:
                opened = self._codec.result(msg, "events.subscribe", None)
                self._events[str(opened.id)] = self._event_buffer()

    def _notified(self, method: str, params: Any) -> None:
        """A notification: an event of an open subscription is kept for it; anything
        else goes to the client's ``_notify``."""
        if method == "event" and isinstance(params, dict):
            buffer = self._events.get(params.get("subscription"))  # type: ignore[arg-type]
            if buffer is not None:
                buffer.append(params)
                return
        self._notify(notification(method, params))

    def _notify(self, note: Notification) -> None:
        raise NotImplementedError

    def _left(self, listen: Listen) -> None:
        """The stream of a subscription ended: its events are no longer kept, and one
        the daemon still runs (the caller left the loop) is to be unsubscribed."""
        if self._events.pop(listen.subscription, None) is not None and not listen.cut:
            self._leaving.append(listen.subscription)

    def _forget_subscriptions(self) -> None:
        """The connection is gone, and its subscriptions with it."""
        self._subscribing.clear()
        self._events.clear()
        self._leaving.clear()


def server_wait(method: str, params: Any) -> float | None:
    """How long the server may legitimately hold this call before replying: 0 for an
    ordinary call, the requested wait for ``runs.wait`` / ``runs.submit`` with
    ``wait``, None when that wait is unbounded (and ``runs.prune``, which takes as long
    as the store is big). The socket timeout grows by it."""
    if method == "runs.prune":
        return None
    if method not in ("runs.wait", "runs.submit"):
        return 0.0
    if method == "runs.submit" and not _field(params, "wait"):
        return 0.0
    timeout_s = _field(params, "timeout_s")
    return float(timeout_s) if isinstance(timeout_s, int | float) else None


def _field(params: Any, key: str) -> Any:
    if isinstance(params, dict):
        return params.get(key)
    return getattr(params, key, None)


def call_timeout(base: float | None, waits: Iterable[float | None]) -> float | None:
    """The client-side timeout for a call: ``base`` plus the longest server wait."""
    if base is None:
        return None
    total = base
    for w in waits:
        if w is None:
            return None
        total = max(total, base + w)
    return total


class End:
    """What :func:`next_item` returns once its stream has ended."""

    __slots__ = ()


END = End()


def next_item(stream: Stream[T]) -> Steps[T | End]:
    """Steps that run ``stream`` on to its next item and return it (:data:`END` once
    ``stream`` has returned): a client iterates a stream by running these with its
    unary driver, again and again."""
    try:
        step = stream.send(None)
        while isinstance(step, Exchange):
            step = stream.send((yield step))
    except StopIteration:
        return END
    return step
