"""What both clients share: request bytes, reply parsing, error types, typed calls.

The sync and asyncio clients differ only in how bytes move; everything about the
JSON-RPC envelope, which result type a method has, how long a call may wait on the
server, and how an error object becomes an exception lives here, once. Kept to
msgspec and the standard library so ``seqctl`` starts fast — not even ``logging``
(about 4 ms of start-up), which is why this module, ``sync`` and ``seqd.cli`` have
no logger: none of them has anything to log that it does not raise or print.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

import msgspec
from msgspec import UNSET, UnsetType

from seqd.errors import ALL_ERRORS
from seqd.models import RunStatus
from seqd.protocol import (
    METHODS,
    CancelParams,
    ListParams,
    LogsParams,
    RunIdParams,
    SubmitParams,
    TaskListParams,
    TaskNameParams,
    WaitParams,
)

START_HINT = "is seqd running? start it with `seqd` or `systemctl --user start seqd`"
LOST_HINT = "the daemon may have stopped or restarted; see its log (`journalctl --user -u seqd`)"
NOTIFICATION_BACKLOG = 1000
"""Notifications kept for a client that does not consume them (oldest dropped)."""

_TYPE_BY_CODE: dict[int, str] = {cls.code: cls.type for cls in ALL_ERRORS}


# -- errors ---------------------------------------------------------------------------


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


# -- wire shapes ------------------------------------------------------------------------


class _Request(msgspec.Struct, omit_defaults=True):
    jsonrpc: str
    method: str
    params: Any = UNSET
    id: int | UnsetType = UNSET


class WireError(msgspec.Struct):
    """An error object as received: lenient, so an odd ``data`` is not a crash."""

    code: int
    message: str
    data: Any = None


class Incoming(msgspec.Struct):
    """Any message a server may send: a response or a notification."""

    jsonrpc: str = "2.0"
    id: int | str | UnsetType | None = UNSET
    result: msgspec.Raw | UnsetType = UNSET
    error: WireError | UnsetType = UNSET
    method: str | UnsetType = UNSET
    params: Any = None


class Notification(msgspec.Struct):
    """A server-to-client message without id (``method`` is ``event`` for events)."""

    method: str
    params: Any


_encoder = msgspec.json.Encoder()
_incoming = msgspec.json.Decoder(Incoming | list[Incoming])
_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}


def encode_request(id: int, method: str, params: Any = None) -> bytes:
    """One request line, ``\\n``-terminated. ``params`` may be a dict or a Struct."""
    return _encoder.encode(_request(id, method, params)) + b"\n"


def encode_batch(calls: Iterable[tuple[int, str, Any]]) -> bytes:
    """One line holding a JSON array of requests."""
    return _encoder.encode([_request(i, m, p) for i, m, p in calls]) + b"\n"


def _request(id: int, method: str, params: Any) -> _Request:
    return _Request("2.0", method, UNSET if params is None else params, id)


def parse_line(line: bytes) -> list[Incoming]:
    """Decode one line into its messages; :class:`ProtocolError` if it is not JSON-RPC."""
    try:
        decoded = _incoming.decode(line)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ProtocolError(f"not a JSON-RPC message: {exc}: {_preview(line)}") from None
    messages = decoded if isinstance(decoded, list) else [decoded]
    for msg in messages:
        if msg.method is UNSET and msg.id is UNSET:
            raise ProtocolError(f"reply without id: {_preview(line)}")
        if msg.method is UNSET and msg.result is UNSET and msg.error is UNSET:
            raise ProtocolError(f"reply with neither result nor error: {_preview(line)}")
    return messages


def _preview(line: bytes, limit: int = 200) -> str:
    text = line[:limit].decode("utf-8", "replace").rstrip("\n")
    return text + ("…" if len(line) > limit else "")


def responses(
    messages: list[Incoming], on_notification: Callable[[Notification], None]
) -> Iterator[Incoming]:
    """The responses among ``messages``; notifications go to ``on_notification`` and
    requests from the server (which no client method answers) are dropped."""
    for msg in messages:
        if isinstance(msg.method, UnsetType):
            yield msg
        elif isinstance(msg.id, UnsetType):
            on_notification(Notification(method=msg.method, params=msg.params))


def to_rpc_error(err: WireError) -> RpcError:
    data = err.data if isinstance(err.data, dict) else {}
    type_ = data.get("type")
    if not isinstance(type_, str):
        type_ = _TYPE_BY_CODE.get(err.code, "error")
    details = data.get("details")
    return RpcError(err.code, err.message, type_, details if isinstance(details, dict) else {})


def result_type_for(method: str, result_type: Any = None) -> Any:
    """The type a result decodes into: the one given, else the method's, else Any."""
    if result_type is not None:
        return result_type
    spec = METHODS.get(method)
    return spec.result if spec is not None else Any


def decode_result(msg: Incoming, method: str, result_type: Any = None) -> Any:
    """The typed result of a response, or raise :class:`RpcError` for an error one."""
    if not isinstance(msg.error, UnsetType):
        raise to_rpc_error(msg.error)
    assert not isinstance(msg.result, UnsetType)  # parse_line guarantees one of them
    rtype = result_type_for(method, result_type)
    decoder = _decoders.get(rtype)
    if decoder is None:
        decoder = _decoders[rtype] = msgspec.json.Decoder(rtype)
    try:
        return decoder.decode(msg.result)
    except msgspec.ValidationError as exc:
        raise ProtocolError(f"unexpected result for {method}: {exc}") from None


def outcome(msg: Incoming, method: str, result_type: Any = None) -> Any:
    """Like :func:`decode_result` but returns an :class:`RpcError` instead of raising
    one (for batches, where each entry succeeds or fails on its own)."""
    try:
        return decode_result(msg, method, result_type)
    except RpcError as exc:
        return exc


def server_wait(method: str, params: Any) -> float | None:
    """How long the server may legitimately hold this call before replying: 0 for an
    ordinary call, the requested wait for ``runs.wait`` / ``runs.submit`` with
    ``wait``, None when that wait is unbounded. The socket timeout grows by it."""
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


# -- typed calls: one definition of each helper's request, used by both clients -------------


class Call(NamedTuple):
    method: str
    params: Any = None


def submit(
    task: str,
    input: dict[str, Any] | None,
    wait: bool,
    timeout_s: float | None,
    idempotency_key: str | None,
    priority: int,
) -> Call:
    return Call(
        "runs.submit",
        SubmitParams(
            task=task,
            input=dict(input or {}),
            wait=wait,
            timeout_s=timeout_s,
            idempotency_key=idempotency_key,
            priority=priority,
        ),
    )


def tasks(tag: str | None) -> Call:
    return Call("tasks.list", TaskListParams(tag=tag))


def task(method: str, name: str) -> Call:
    return Call(method, TaskNameParams(name=name))


def get_run(id: str) -> Call:
    return Call("runs.get", RunIdParams(id=id))


def wait(id: str, timeout_s: float | None) -> Call:
    return Call("runs.wait", WaitParams(id=id, timeout_s=timeout_s))


def list_runs(
    task: str | None,
    status: RunStatus | None,
    parent_id: str | None,
    limit: int,
    cursor: str | None,
) -> Call:
    return Call(
        "runs.list",
        ListParams(task=task, status=status, parent_id=parent_id, limit=limit, cursor=cursor),
    )


def cancel(id: str, reason: str | None) -> Call:
    return Call("runs.cancel", CancelParams(id=id, reason=reason))


def logs(id: str, after: int, limit: int) -> Call:
    return Call("runs.logs", LogsParams(id=id, after=after, limit=limit))


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
