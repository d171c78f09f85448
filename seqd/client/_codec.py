"""Messages, and what goes wrong with them: what both clients and both codecs share —
the error types, the JSON-RPC envelope, what makes a reply unusable, which messages
are replies, and how a reply becomes a value or an error.

The two codecs differ only in how bytes become objects: ``_typed`` (msgspec, results
decoded into the method's Struct) and ``_plain`` (the standard library's C JSON code,
results as ``AttrDict``). Everything else about a message lives here, once; what a
call is around its messages (ids, timeouts, the steps of a method) is ``_calls``'s.

This module imports neither msgspec nor ``typing`` (nor ``logging``): it is on
``seqctl``'s start-up path, which must stay a few milliseconds over a bare
interpreter. That is also why it, ``sync``, ``_plain`` and ``seqd.cli`` have no
logger: none of them has anything to log that it does not raise or print.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from typing import Any, Protocol

    from seqd.client.notification import Notification

NOTIFICATION_BACKLOG = 1000
"""Notifications kept for a client that does not consume them (oldest dropped)."""

# -- errors ---------------------------------------------------------------------------

START_HINT = "is seqd running? start it with `seqd` or `systemctl --user start seqd`"
LOST_HINT = "the daemon may have stopped or restarted; see its log (`journalctl --user -u seqd`)"


class ClientError(Exception):
    """Base of everything the clients raise on purpose."""


class RpcError(ClientError):
    """The daemon answered with a JSON-RPC error: it refused or failed the request.

    ``type`` is the stable machine string (``not_found``, ``validation``...) from
    ``error.data.type``; ``details`` holds specifics such as the offending ``field``.
    """

    def __init__(
        self, code: int, message: str, type: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{message} ({type})")
        self.code = code
        self.message = message
        self.type = type
        self.details: dict[str, Any] = details or {}


class DaemonUnreachable(ClientError):
    """No usable connection: nothing listens, the connection dropped, or no reply came
    in time. The message names the socket and what to do about it."""

    def __init__(self, socket_path: str, reason: str, hint: str = START_HINT) -> None:
        super().__init__(f"cannot reach seqd at {socket_path}: {reason} ({hint})")
        self.socket_path = socket_path
        self.reason = reason
        self.hint = hint


class ProtocolError(ClientError):
    """The peer sent something that is not a JSON-RPC reply we can use."""


class SubscriptionCut(ClientError):
    """The daemon ended a subscription (``reason``: ``slow`` — the client read too
    slowly —, ``shutdown`` or ``error``). Subscribe again with ``since=cursor`` to go on
    from the last event received, missing nothing."""

    def __init__(self, subscription: str, reason: str, cursor: str) -> None:
        super().__init__(
            f"subscription {subscription} was cut ({reason}); resume with since={cursor!r}"
        )
        self.subscription = subscription
        self.reason = reason
        self.cursor = cursor


def connect_failed(socket_path: str, exc: OSError) -> DaemonUnreachable:
    """Why connecting failed, in words a user can act on."""
    if isinstance(exc, FileNotFoundError):
        return DaemonUnreachable(socket_path, "no such socket")
    if isinstance(exc, ConnectionRefusedError):
        return DaemonUnreachable(socket_path, "connection refused (nothing is listening)")
    if isinstance(exc, PermissionError):
        return DaemonUnreachable(
            socket_path,
            "permission denied",
            "the socket belongs to another user; ask for its group or use your own daemon",
        )
    if isinstance(exc, TimeoutError):
        return DaemonUnreachable(socket_path, "connecting timed out")
    return DaemonUnreachable(socket_path, exc.strerror or str(exc))


def connection_lost(socket_path: str, exc: OSError | None = None) -> DaemonUnreachable:
    reason = "the daemon closed the connection before replying"
    if exc is not None:
        reason = f"connection lost ({exc.strerror or exc})"
    return DaemonUnreachable(socket_path, reason, LOST_HINT)


def no_reply(socket_path: str, timeout: float | None) -> DaemonUnreachable:
    return DaemonUnreachable(
        socket_path, f"no reply within {timeout:g}s", "the daemon may be overloaded or stuck"
    )


def subscription_lost(socket_path: str, subscription: str) -> DaemonUnreachable:
    return DaemonUnreachable(
        socket_path,
        f"the connection of subscription {subscription} was lost",
        "subscribe again with since= the cursor of the last event received",
    )


def closed_during_call(socket_path: str) -> DaemonUnreachable:
    return DaemonUnreachable(
        socket_path, "the client was closed during the call", "call again to reconnect"
    )


# -- messages as either codec decodes them ------------------------------------------------


class Absent:
    """The type of :data:`ABSENT`: a member the message did not have (``null`` is None)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = Absent()


class WireError:
    """An error object as received; ``data`` is whatever was sent (None if nothing)."""

    __slots__ = ("code", "data", "message")

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        self.code = code
        self.message = message
        self.data = data


class Message:
    """Any message a server may send — a response, a notification or a request — with
    its members checked for type by the codec. ``result`` is what the codec needs to
    produce the final value later (undecoded JSON for msgspec, the value for json)."""

    __slots__ = ("error", "id", "method", "params", "result")

    def __init__(
        self,
        id: int | str | Absent | None = ABSENT,
        result: Any = ABSENT,
        error: WireError | Absent = ABSENT,
        method: str | Absent = ABSENT,
        params: Any = None,
    ) -> None:
        self.id = id
        self.result = result
        self.error = error
        self.method = method
        self.params = params


if TYPE_CHECKING:

    class Codec(Protocol):
        """Bytes to and from objects: ``_typed.CODEC`` or ``_plain.CODEC``."""

        def encode(self, value: Any) -> bytes:
            """Compact JSON for a request or a batch (dicts, lists, params)."""

        def decode_line(self, line: bytes) -> list[Message]:
            """Every message in one line, members type-checked; raises
            :class:`ProtocolError` for anything that is not JSON-RPC shaped."""

        def result(self, msg: Message, method: str, result_type: Any) -> Any:
            """The value of a successful response to ``method``."""

        def event(self, params: Any) -> Any:
            """An ``event`` notification's params as the event they are."""


def request(id: int, method: str, params: Any = None) -> dict[str, Any]:
    """One request object; ``params`` (a dict or a Struct) is left out when None."""
    if params is None:
        return {"jsonrpc": "2.0", "method": method, "id": id}
    return {"jsonrpc": "2.0", "method": method, "params": params, "id": id}


def encode_request(codec: Codec, id: int, method: str, params: Any = None) -> bytes:
    """One request line, ``\\n``-terminated."""
    return codec.encode(request(id, method, params)) + b"\n"


def encode_batch(codec: Codec, calls: Iterable[tuple[int, str, Any]]) -> bytes:
    """One line holding a JSON array of requests."""
    return codec.encode([request(i, m, p) for i, m, p in calls]) + b"\n"


def parse_line(codec: Codec, line: bytes) -> list[Message]:
    """Decode one line into its messages; :class:`ProtocolError` if it is not JSON-RPC."""
    messages = codec.decode_line(line)
    for msg in messages:
        if msg.method is ABSENT and msg.id is ABSENT:
            raise ProtocolError(f"reply without id: {preview(line)}")
        if msg.method is ABSENT and msg.result is ABSENT and msg.error is ABSENT:
            raise ProtocolError(f"reply with neither result nor error: {preview(line)}")
    return messages


def preview(line: bytes, limit: int = 200) -> str:
    text = line[:limit].decode("utf-8", "replace").rstrip("\n")
    return text + ("…" if len(line) > limit else "")


def responses(
    messages: list[Message], on_notification: Callable[[str, Any], None]
) -> Iterator[Message]:
    """The responses among ``messages``; notifications go to ``on_notification``
    (method, params) and requests from the server (which no client method answers) are
    dropped. An error with a null id — the daemon could not tell which request it
    answers — is raised as :class:`RpcError`: no single call can take it."""
    for msg in messages:
        if isinstance(msg.method, Absent):
            if msg.id is None and isinstance(msg.error, WireError):
                raise to_rpc_error(msg.error)
            yield msg
        elif isinstance(msg.id, Absent):
            on_notification(msg.method, msg.params)


def notification(method: str, params: Any) -> Notification:
    """The public ``Notification`` Struct, in either mode. Imported here, when one
    arrives, so that a client that never subscribes (seqctl) never imports msgspec."""
    from seqd.client.notification import Notification

    return Notification(method=method, params=params)


def to_rpc_error(err: WireError) -> RpcError:
    data = err.data if isinstance(err.data, dict) else {}
    type_ = data.get("type")
    if not isinstance(type_, str):
        type_ = _type_of_code(err.code)
    details = data.get("details")
    return RpcError(err.code, err.message, type_, details if isinstance(details, dict) else {})


def _type_of_code(code: int) -> str:
    # Only for an error without data.type, which seqd never sends: seqd.errors imports
    # typing, so it is not imported up front.
    from seqd.errors import ALL_ERRORS

    return next((cls.type for cls in ALL_ERRORS if cls.code == code), "error")


def decode_result(codec: Codec, msg: Message, method: str, result_type: Any = None) -> Any:
    """The result of a response, or raise :class:`RpcError` for an error one."""
    if isinstance(msg.error, WireError):
        raise to_rpc_error(msg.error)
    return codec.result(msg, method, result_type)


def outcome(codec: Codec, msg: Message, method: str, result_type: Any = None) -> Any:
    """Like :func:`decode_result` but returns an :class:`RpcError` instead of raising
    one (for batches, where each entry succeeds or fails on its own)."""
    try:
        return decode_result(codec, msg, method, result_type)
    except RpcError as exc:
        return exc
