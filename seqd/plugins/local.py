"""The daemon's API in-process, for plugins that are another face of it (the web
dashboard): call any JSON-RPC method as a given user, and receive event notifications,
through the same dispatch as the socket.

A ``LocalConnection`` is a connection without a socket: its requests are decoded,
checked against the method's role, rate-limited and answered by the very dispatcher
that serves ``seqd.sock``, with a caller built from a uid the way a run's submitter
is (its role from ``[access]``, its groups from the group database). So a plugin can
never do more for a user than that user could do with seqctl, and every error is the
one seqctl would see. Notifications (``events.subscribe``) are queued on the
connection; a reader that falls behind pauses it, as a slow socket client would.

``DaemonInfo.api`` is the daemon's ``LocalApi``. Calls made before the daemon serves
(from ``seqd_startup``, say) wait until it does.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from seqd.model.roles import Role
from seqd.rpc.dispatch import Caller, Dispatcher
from seqd.rpc.push import Push

MAX_QUEUED = 1000
"""Notifications held for a connection's reader before the connection is paused."""

RoleOf = Callable[[int], Awaitable[Role]]
"""``role_of(uid)``: a user's role, as for the submitter of a run."""


class CallFailed(Exception):
    """The daemon answered a local call with an error: the same ``code``, ``type``
    (``not_found``, ``permission_denied``, ``validation``...), ``message`` and
    ``details`` a socket client gets."""

    def __init__(self, code: int, message: str, type: str, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.type = type
        self.details = details


class _Error(msgspec.Struct):
    code: int
    message: str
    data: dict[str, Any] = {}


class _Response(msgspec.Struct):
    result: Any = None
    error: _Error | None = None


_decode_response = msgspec.json.Decoder(_Response).decode
_decode_any = msgspec.json.Decoder().decode


class LocalConnection:
    """One user's in-process connection; ``close()`` it when done (that ends its
    subscriptions, as a closed socket does)."""

    def __init__(self, dispatcher: Dispatcher, uid: int, role: Role) -> None:
        self._dispatcher = dispatcher
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._push = Push(self._received, lambda: None)
        self.caller = Caller(pid=0, uid=uid, gid=-1, role=role, push=self._push)
        self._ids = itertools.count(1)

    @property
    def uid(self) -> int:
        return self.caller.uid

    @property
    def role(self) -> Role:
        return self.caller.role

    async def call(self, method: str, params: Any = None) -> Any:
        """The result of ``method`` (plain JSON values); ``CallFailed`` on an error."""
        line = msgspec.json.encode(
            {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params or {}}
        )
        answer = self._dispatcher.handle(line, self.caller)
        if answer is not None and not isinstance(answer, bytes):
            answer = await answer
        if answer is None:  # only for notifications, which this never sends
            raise CallFailed(-32603, "no answer", "internal", {})
        response = _decode_response(answer)
        if response.error is not None:
            data = response.error.data
            raise CallFailed(
                response.error.code,
                response.error.message,
                str(data.get("type", "internal")),
                dict(data.get("details") or {}),
            )
        return response.result

    async def notification(self) -> dict[str, Any]:
        """The next notification (``{"method": "event", "params": {...}}``); waits."""
        item = await self._queue.get()
        if self._push.paused and self._queue.qsize() < MAX_QUEUED // 2:
            self._push.resume()
        return item

    def close(self) -> None:
        self._push.close()

    def _received(self, line: bytes) -> None:
        self._queue.put_nowait(_decode_any(line))
        if self._queue.qsize() >= MAX_QUEUED and not self._push.paused:
            self._push.pause()


class LocalApi:
    """Opens ``LocalConnection``s as a user, and tells which user a token acts as."""

    def __init__(self) -> None:
        self._ready = asyncio.Event()
        self._dispatcher: Dispatcher | None = None
        self._role_of: RoleOf | None = None
        self._token_owner: Callable[[str], int | None] | None = None

    def bind(
        self,
        dispatcher: Dispatcher,
        role_of: RoleOf,
        token_owner: Callable[[str], int | None],
    ) -> None:
        """Called by the daemon once it serves: ``token_owner(token)`` is the uid a
        token acts as (None: not a valid token); it may do file I/O."""
        self._dispatcher, self._role_of, self._token_owner = dispatcher, role_of, token_owner
        self._ready.set()

    async def connect(self, uid: int) -> LocalConnection:
        """A connection acting as ``uid``, with the role ``[access]`` gives that user
        (its groups from the group database, remembered until the daemon reloads, as
        for the submitter of a run)."""
        await self._ready.wait()
        assert self._dispatcher is not None and self._role_of is not None
        return LocalConnection(self._dispatcher, uid, await self._role_of(uid))

    async def token_owner(self, token: str) -> int | None:
        """The uid a token from ``tokens.create`` (``seqctl web token``) acts as, or
        None when it is unknown, expired or revoked."""
        await self._ready.wait()
        assert self._token_owner is not None
        return await asyncio.to_thread(self._token_owner, token)
