"""``seqd.plugins.local``: plugins call the API in-process as a user, through the
socket's own dispatcher — same roles, same validation, same errors — and receive
notifications with the socket's flow control. (seqd-web's tests drive it end to end
against a real daemon.)"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from seqd.model.roles import Role
from seqd.plugins import local
from seqd.plugins.local import CallFailed, LocalApi
from seqd.rpc.dispatch import Caller, Dispatcher
from seqd.rpc.protocol import METHODS

ROLES: dict[int, Role] = {0: "admin", 1000: "reader", 1001: "operator"}


def api() -> LocalApi:
    async def get(params: Any, caller: Caller) -> dict[str, Any]:
        return {"id": params.id, "uid": caller.uid, "role": caller.role}

    def subscribe(params: Any, caller: Caller) -> dict[str, str]:
        assert caller.push is not None
        for n in range(3):
            caller.push.send(b'{"jsonrpc":"2.0","method":"event","params":{"n":%d}}' % n)
        return {"id": "1", "cursor": "c"}

    handlers: dict[str, Any] = {m: (lambda p, c: "pong") for m in METHODS}
    handlers["runs.get"] = get
    handlers["events.subscribe"] = subscribe

    async def role_of(uid: int) -> Role:
        return ROLES.get(uid, "none")

    tokens = {"seqd_good": 1001}
    made = LocalApi()
    made.bind(Dispatcher(handlers), role_of, tokens.get)
    return made


def test_calls_act_as_the_user_with_its_role() -> None:
    async def go() -> None:
        conn = await api().connect(1000)
        assert (conn.uid, conn.role) == (1000, "reader")
        got = await conn.call("runs.get", {"id": "abcd"})
        assert got == {"id": "abcd", "uid": 1000, "role": "reader"}
        with pytest.raises(CallFailed) as denied:
            await conn.call("runs.cancel", {"id": "abcd"})
        assert (denied.value.code, denied.value.type) == (-32004, "permission_denied")
        assert denied.value.details["needed"] == "operator"
        with pytest.raises(CallFailed) as invalid:
            await conn.call("runs.get", {"id": "not hex"})
        assert invalid.value.type == "validation" and invalid.value.details["field"] == "id"
        conn.close()

    asyncio.run(go())


def test_tokens_name_their_user() -> None:
    async def go() -> None:
        made = api()
        assert await made.token_owner("seqd_good") == 1001
        assert await made.token_owner("seqd_bad") is None

    asyncio.run(go())


def test_calls_wait_until_the_daemon_serves() -> None:
    async def go() -> None:
        waiting = LocalApi()
        pending = asyncio.ensure_future(waiting.connect(0))
        await asyncio.sleep(0.01)
        assert not pending.done()
        ready = api()
        waiting.bind(ready._dispatcher, ready._role_of, ready._token_owner)  # type: ignore[arg-type]
        conn = await pending
        assert conn.role == "admin"

    asyncio.run(go())


def test_notifications_in_order_with_flow_control(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "MAX_QUEUED", 2)

    async def go() -> None:
        conn = await api().connect(1000)
        await conn.call("events.subscribe", {"topics": ["run"]})
        assert conn._push.paused  # two queued: the writer is told to wait
        got = [await conn.notification() for _ in range(3)]
        assert [m["params"]["n"] for m in got] == [0, 1, 2]
        assert not conn._push.paused
        conn.close()
        assert conn._push.closed

    asyncio.run(go())
