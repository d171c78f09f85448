"""Dispatch is bytes in, bytes out: every error code without a socket."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from seqd.errors import Conflict
from seqd.rpc.dispatch import Caller, Dispatcher
from seqd.rpc.protocol import METHODS

USER = Caller(pid=1, uid=1000, gid=1000, role="reader")
OPERATOR = Caller(pid=1, uid=1001, gid=1001, role="operator")
ADMIN = Caller(pid=1, uid=0, gid=0, role="admin")


def make() -> Dispatcher:
    async def get(params: Any, caller: Caller) -> dict[str, str]:
        await asyncio.sleep(0)
        return {"id": params.id}

    async def cancel(params: Any, caller: Caller) -> None:
        raise Conflict("already finished", {"id": params.id})

    def status(params: Any, caller: Caller) -> None:
        raise ZeroDivisionError("secret internal detail")

    handlers: dict[str, Any] = {m: (lambda p, c: "pong") for m in METHODS}
    handlers["runs.get"] = get
    handlers["runs.cancel"] = cancel
    handlers["daemon.status"] = status
    return Dispatcher(handlers)


def call(line: str | bytes, caller: Caller = USER) -> Any:
    raw = line.encode() if isinstance(line, str) else line
    out = make().handle(raw, caller)
    if out is not None and not isinstance(out, bytes):
        out = asyncio.run(_await(out))
    return None if out is None else json.loads(out)


async def _await(x: Any) -> Any:
    return await x


def req(method: str, params: Any = None, id: Any = 1) -> str:
    msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": id}
    if params is not None:
        msg["params"] = params
    return json.dumps(msg)


def test_ping() -> None:
    assert call(req("daemon.ping")) == {"jsonrpc": "2.0", "id": 1, "result": "pong"}


def test_async_handler_and_string_id() -> None:
    out = call(req("runs.get", {"id": "abcdef0123"}, id="x"))
    assert out == {"jsonrpc": "2.0", "id": "x", "result": {"id": "abcdef0123"}}


@pytest.mark.parametrize(
    ("line", "code", "etype"),
    [
        ("{not json", -32700, "parse_error"),
        ('"just a string"', -32600, "invalid_request"),
        ("42", -32600, "invalid_request"),
        ('{"jsonrpc":"2.0","id":1}', -32600, "invalid_request"),
        ('{"jsonrpc":"1.0","id":1,"method":"daemon.ping"}', -32600, "invalid_request"),
        ('{"jsonrpc":"2.0","id":1,"method":"daemon.ping","extra":1}', -32600, "invalid_request"),
        ('{"jsonrpc":"2.0","id":[1],"method":"daemon.ping"}', -32600, "invalid_request"),
        ('{"jsonrpc":"2.0","id":1,"method":"no.such"}', -32601, "method_not_found"),
        ('{"jsonrpc":"2.0","id":1,"method":"runs.get","params":{}}', -32602, "validation"),
        ('{"jsonrpc":"2.0","id":1,"method":"runs.get","params":[1]}', -32602, "validation"),
        ('{"jsonrpc":"2.0","id":1,"method":"runs.get","params":"x"}', -32600, "invalid_request"),
        ("[]", -32600, "invalid_request"),
    ],
)
def test_error_codes(line: str, code: int, etype: str) -> None:
    out = call(line)
    assert out["jsonrpc"] == "2.0"
    assert out["error"]["code"] == code, out
    assert out["error"]["data"]["type"] == etype
    assert "id" in out


def test_parse_error_has_null_id() -> None:
    assert call("{oops")["id"] is None


def test_invalid_params_name_the_field() -> None:
    out = call(req("runs.submit", {"task": "../etc/passwd"}))
    assert out["error"]["code"] == -32602
    assert out["error"]["data"]["details"]["field"] == "task"
    out = call(req("runs.submit", {"task": "ok", "input": {}, "bogus": 1}))
    assert out["error"]["data"]["details"]["field"] == "bogus"
    out = call(req("runs.list", {"limit": 0}))
    assert out["error"]["data"]["details"]["field"] == "limit"
    assert "limit" in out["error"]["message"]
    out = call(req("runs.submit", {"task": "ok", "input": []}))
    assert out["error"]["data"]["details"]["field"] == "input"


def test_application_error_carries_type_and_details() -> None:
    out = call(req("runs.cancel", {"id": "abcdef0123"}), OPERATOR)
    assert out["error"] == {
        "code": -32002,
        "message": "already finished",
        "data": {"type": "conflict", "details": {"id": "abcdef0123"}},
    }


def test_unexpected_exception_is_generic() -> None:
    out = call(req("daemon.status"))
    assert out["error"]["code"] == -32603
    assert "secret" not in json.dumps(out)


def test_admin_methods_need_admin() -> None:
    for who in (USER, OPERATOR):
        out = call(req("daemon.shutdown"), who)
        assert out["error"]["data"]["type"] == "permission_denied"
        assert out["error"]["data"]["details"]["needed"] == "admin"
    assert call(req("daemon.shutdown"), ADMIN)["result"] == "pong"


def test_each_method_needs_its_role() -> None:
    """A reader may read; submitting and managing runs and calling tools need an
    operator; the role is checked before the handler runs."""
    submit = req("runs.submit", {"task": "hello"})
    out = call(submit, USER)
    assert out["error"]["data"]["details"] == {
        "method": "runs.submit",
        "uid": 1000,
        "role": "reader",
        "needed": "operator",
    }
    nobody = Caller(pid=1, uid=1002, gid=1002, role="none")
    assert call(req("daemon.ping"), nobody)["error"]["data"]["type"] == "permission_denied"
    assert call(req("daemon.ping"), USER)["result"] == "pong"
    assert call(submit, OPERATOR)["result"] == "pong"


def test_notification_gets_no_answer() -> None:
    assert call('{"jsonrpc":"2.0","method":"daemon.ping"}') is None
    assert call('{"jsonrpc":"2.0","method":"no.such"}') is None


def test_null_id_is_a_request_not_a_notification() -> None:
    assert call(req("daemon.ping", id=None)) == {"jsonrpc": "2.0", "id": None, "result": "pong"}


def test_batch_mixed() -> None:
    batch = (
        "["
        + ",".join(
            [
                req("daemon.ping", id=1),
                '{"jsonrpc":"2.0","method":"daemon.ping"}',
                req("runs.get", {"id": "abcdef0123"}, id=2),
                req("nope", id=3),
                "5",
            ]
        )
        + "]"
    )
    out = call(batch)
    assert [r.get("id") for r in out] == [1, 2, 3, None]
    assert out[0]["result"] == "pong"
    assert out[1]["result"] == {"id": "abcdef0123"}
    assert out[2]["error"]["code"] == -32601
    assert out[3]["error"]["code"] == -32600


def test_batch_of_notifications_gets_nothing() -> None:
    assert call('[{"jsonrpc":"2.0","method":"daemon.ping"}]') is None


def test_every_method_has_a_handler() -> None:
    with pytest.raises(ValueError, match="no handler"):
        Dispatcher({"daemon.ping": lambda p, c: "pong"})


def test_slow_detection_covers_slow_methods() -> None:
    d = make()
    assert d.is_slow(req("runs.wait", {"id": "abcdef0123"}).encode())
    assert d.is_slow(req("runs.submit", {"task": "x", "wait": True}).encode())
    assert not d.is_slow(req("runs.submit", {"task": "x"}).encode())
    assert not d.is_slow(req("daemon.ping").encode())
    for method, spec in METHODS.items():
        if spec.slow and method != "runs.submit":  # submit is slow only with wait
            assert d.is_slow(req(method, {"id": "abcdef0123"}).encode()), method


def test_slow_detection_reads_the_decoded_request_not_the_text() -> None:
    d = make()
    wait = req("runs.wait", {"id": "abcdef0123"}).encode()
    assert d.is_slow(wait.replace(b"runs.wait", b"runs\\u002ewait"))
    assert d.is_slow(wait.replace(b"runs.wait", b"\\u0072uns.wait"))
    assert not d.is_slow(req("runs.submit", {"task": "x", "input": {"wait": True}}).encode())
    assert not d.is_slow(req("runs.submit", {"task": "x", "wait": "true"}).encode())
    assert not d.is_slow(req("daemon.ping", {"note": "runs.wait"}).encode())
    assert not d.is_slow(b'{"method": "runs.wait"')  # not JSON: answered at once
    batch = b"[" + req("daemon.ping").encode() + b"," + wait + b",7]"
    assert d.is_slow(batch)
    assert not d.is_slow(b"[" + req("daemon.ping").encode() + b',"runs.wait"]')


def test_batch_runs_in_order_even_when_a_request_waits() -> None:
    order: list[str] = []

    async def slow(params: Any, caller: Caller) -> str:
        await asyncio.sleep(0.01)
        order.append("get")
        return "got"

    def quick(params: Any, caller: Caller) -> str:
        order.append("ping")
        return "pong"

    handlers: dict[str, Any] = {m: quick for m in METHODS}
    handlers["runs.get"] = slow
    d = Dispatcher(handlers)
    line = "[" + ",".join([req("runs.get", {"id": "abcdef0123"}), req("daemon.ping", id=2)]) + "]"
    out = asyncio.run(_await(d.handle(line.encode(), USER)))
    assert order == ["get", "ping"]
    assert [r["result"] for r in json.loads(out)] == ["got", "pong"]
