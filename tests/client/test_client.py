"""seqd.client: framing against scripted real-socket servers, then the real daemon."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from seqd.client import (
    AsyncClient,
    Client,
    DaemonUnreachable,
    Notification,
    ProtocolError,
    RpcError,
)
from seqd.model.runs import Run
from seqd.rpc.runs import SubmitParams

NOT_A_RUN = "0" * 24


# -- a scripted JSON-RPC peer on a real Unix socket -------------------------------------


class Peer:
    """One accepted connection, driven by a test script in the server's thread."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn
        self.rfile = conn.makefile("rb")

    def read_raw(self) -> bytes:
        return self.rfile.readline()

    def read(self) -> Any:
        line = self.read_raw()
        if not line.endswith(b"\n"):
            raise EOFError(line)
        return json.loads(line)

    def send(self, message: Any) -> None:
        data = message if isinstance(message, bytes) else json.dumps(message).encode() + b"\n"
        self.conn.sendall(data)

    def reply(self, request: dict[str, Any], result: Any) -> None:
        self.send({"jsonrpc": "2.0", "id": request["id"], "result": result})


class ScriptedServer:
    """Accepts connections on ``path`` and runs ``script(peer)`` for each, in a thread."""

    def __init__(self, path: Path, script: Callable[[Peer], None]) -> None:
        self.path = str(path)
        self.script = script
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(8)
        self.sock.settimeout(0.05)  # so the accept loop sees ``_stop`` promptly
        self._stop = threading.Event()
        self.connections = 0
        self.errors: list[BaseException] = []
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            self.connections += 1
            self._conns.append(conn)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        try:
            self.script(Peer(conn))
        except (OSError, ValueError, EOFError):
            pass  # the client went away: fine for these scripts
        except BaseException as exc:  # an assertion in the script
            self.errors.append(exc)
        finally:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()
        for conn in self._conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
        if self.errors:
            raise self.errors[0]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[[Callable[[Peer], None]], ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def start(script: Callable[[Peer], None]) -> ScriptedServer:
        server = ScriptedServer(tmp_path / f"s{len(servers)}.sock", script)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def echo_forever(peer: Peer) -> None:
    """Answer every request with its own method and params."""
    while True:
        line = peer.read_raw()
        if not line:
            return
        msg = json.loads(line)
        if isinstance(msg, list):
            peer.send([{"jsonrpc": "2.0", "id": m["id"], "result": [m["method"], m.get("params")]}
                       for m in msg])  # fmt: skip
        else:
            peer.reply(msg, [msg["method"], msg.get("params")])


# -- framing -------------------------------------------------------------------------------------


def test_request_framing_and_typed_result(serve) -> None:
    seen: list[bytes] = []

    def script(peer: Peer) -> None:
        line = peer.read_raw()
        seen.append(line)
        peer.reply(json.loads(line), "pong")

    server = serve(script)
    with Client(server.path) as client:
        assert client.ping() == "pong"
    (line,) = seen
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    msg = json.loads(line)
    assert msg["jsonrpc"] == "2.0"
    assert msg["method"] == "daemon.ping"
    assert isinstance(msg["id"], int)
    assert "params" not in msg


def test_one_connection_is_reused_and_params_may_be_dict_or_struct(serve) -> None:
    server = serve(echo_forever)
    with Client(server.path) as client:
        as_dict = client.call("runs.submit", {"task": "hello", "input": {"a": 1}}, list)
        as_struct = client.call(
            "runs.submit", SubmitParams(task="hello", input={"a": 1}), result_type=list
        )
        assert as_dict[0] == as_struct[0] == "runs.submit"
        assert as_dict[1]["task"] == as_struct[1]["task"] == "hello"
        assert as_struct[1]["input"] == {"a": 1}
        # Unknown methods decode to plain JSON.
        assert client.call("x.y", {"k": [1, 2]}) == ["x.y", {"k": [1, 2]}]
    assert server.connections == 1


def test_notification_before_the_response_is_kept_aside(serve) -> None:
    def script(peer: Peer) -> None:
        req = peer.read()
        for n in range(3):
            peer.send({"jsonrpc": "2.0", "method": "event", "params": {"subscription": 1, "n": n}})
        peer.reply(req, "pong")

    server = serve(script)
    with Client(server.path) as client:
        assert client.ping() == "pong"
        assert [n.params["n"] for n in client.notifications] == [0, 1, 2]
        assert all(n.method == "event" for n in client.notifications)

    got: list[Notification] = []
    server2 = serve(script)
    with Client(server2.path, on_notification=got.append) as client:
        assert client.ping() == "pong"
        assert len(got) == 3 and not client.notifications


def test_batch_routes_out_of_order_replies_by_id(serve) -> None:
    def script(peer: Peer) -> None:
        batch = peer.read()
        assert isinstance(batch, list) and len(batch) == 3
        # Answer as separate lines, last first, with a notification in between.
        first, second, third = batch
        peer.reply(third, "three")
        peer.send({"jsonrpc": "2.0", "method": "event", "params": {}})
        peer.send(
            {"jsonrpc": "2.0", "id": second["id"],
             "error": {"code": -32001, "message": "no such run", "data": {"type": "not_found"}}}
        )  # fmt: skip
        peer.reply(first, "one")
        # Then a batch answered as one array in reverse order.
        batch = peer.read()
        peer.send([{"jsonrpc": "2.0", "id": m["id"], "result": m["method"]} for m in batch[::-1]])

    server = serve(script)
    with Client(server.path) as client:
        results = client.batch([("a.one", None), ("runs.get", {"id": NOT_A_RUN}), ("a.three", {})])
        assert results[0] == "one" and results[2] == "three"
        assert isinstance(results[1], RpcError) and results[1].type == "not_found"
        assert len(client.notifications) == 1
        assert client.batch([("m1", None), ("m2", None)]) == ["m1", "m2"]
        assert client.batch([]) == []


def test_error_response_becomes_rpc_error(serve) -> None:
    def script(peer: Peer) -> None:
        req = peer.read()
        peer.send(
            {
                "jsonrpc": "2.0",
                "id": req["id"],
                "error": {
                    "code": -32602,
                    "message": "invalid params: Expected `str`",
                    "data": {"type": "validation", "details": {"field": "$.task"}},
                },
            }
        )
        req = peer.read()  # no data at all: the type comes from the code
        peer.send({"jsonrpc": "2.0", "id": req["id"], "error": {"code": -32601, "message": "?"}})

    server = serve(script)
    with Client(server.path) as client:
        with pytest.raises(RpcError) as info:
            client.submit("hello")
        err = info.value
        assert (err.code, err.type, err.details) == (-32602, "validation", {"field": "$.task"})
        assert err.message == "invalid params: Expected `str`"
        assert "validation" in str(err)
        with pytest.raises(RpcError) as info:
            client.call("no.such")
        assert info.value.type == "method_not_found" and info.value.details == {}


def test_error_with_null_id_fails_the_call(serve) -> None:
    def script(peer: Peer) -> None:
        peer.read()
        peer.send(
            b'{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error",'
            b'"data":{"type":"parse_error","details":{}}}}\n'
        )

    server = serve(script)
    with Client(server.path) as client, pytest.raises(RpcError) as info:
        client.ping()
    assert info.value.code == -32700


@pytest.mark.parametrize(
    "garbage",
    [
        b"this is not json\n",
        b'{"jsonrpc": "2.0", "result": 1}\n',  # no id
        b'{"jsonrpc": "2.0", "id": 1}\n',  # neither result nor error
        b"[1, 2]\n",
        b'{"jsonrpc": "2.0", "id": 999, "result": 1}\n',  # an id never sent
    ],
)
def test_garbage_is_a_protocol_error_and_the_next_call_reconnects(serve, garbage) -> None:
    def script(peer: Peer) -> None:
        req = peer.read()
        if peer_number() == 1:
            peer.send(garbage)
            time.sleep(0.2)  # keep the connection open: the client must not wait for more
        else:
            peer.reply(req, "pong")

    count = {"n": 0}

    def peer_number() -> int:
        count["n"] += 1
        return count["n"]

    server = serve(script)
    with Client(server.path, timeout=None) as client:
        with pytest.raises(ProtocolError):
            client.ping()
        assert client.ping() == "pong"
    assert server.connections == 2


def test_result_of_the_wrong_shape_is_a_protocol_error(serve) -> None:
    def script(peer: Peer) -> None:
        req = peer.read()
        peer.reply(req, {"id": "x"})  # a Run without task, status, created_at

    server = serve(script)
    with Client(server.path) as client, pytest.raises(ProtocolError, match="runs.get"):
        client.get_run(NOT_A_RUN)


@pytest.mark.parametrize("partial", [b"", b'{"jsonrpc": "2.0", "id": 1, "res'])
def test_server_closing_mid_response_raises_instead_of_hanging(serve, partial) -> None:
    def script(peer: Peer) -> None:
        peer.read()
        if partial:
            peer.send(partial)
        peer.conn.shutdown(socket.SHUT_RDWR)

    server = serve(script)
    # No timeout: only end-of-stream detection can end this call.
    with Client(server.path, timeout=None) as client, pytest.raises(DaemonUnreachable) as info:
        client.ping()
    assert server.path in str(info.value)
    assert "closed" in info.value.reason


def test_no_reply_within_the_timeout(serve) -> None:
    release = threading.Event()

    def script(peer: Peer) -> None:
        peer.read()
        release.wait(10)

    server = serve(script)
    try:
        with Client(server.path, timeout=0.3) as client, pytest.raises(DaemonUnreachable) as info:
            client.ping()
        assert "no reply within 0.3s" in str(info.value)
    finally:
        release.set()


def test_waiting_calls_extend_the_socket_timeout(serve) -> None:
    run = {"id": "ab" * 12, "task": "slow", "status": "running", "created_at": "2026-01-01T00:00Z"}

    def script(peer: Peer) -> None:
        while True:
            req = peer.read()
            time.sleep(0.8)  # longer than the client's timeout, within the wait asked for
            if isinstance(req, list):
                peer.send([{"jsonrpc": "2.0", "id": m["id"], "result": run} for m in req])
            else:
                peer.reply(req, run)

    server = serve(script)
    with Client(server.path, timeout=0.3) as client:
        assert client.wait(run["id"], timeout_s=5).status == "running"
        assert client.submit("slow", wait=True, timeout_s=5).id == run["id"]
        got = client.batch(
            [("runs.get", {"id": run["id"]}), ("runs.wait", {"id": run["id"], "timeout_s": 5})]
        )
        assert all(isinstance(r, Run) for r in got)


def test_unreachable_names_the_socket_and_how_to_start_the_daemon(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.sock")
    with pytest.raises(DaemonUnreachable) as info:
        Client(missing).ping()
    text = str(info.value)
    assert missing in text and "no such socket" in text
    assert "seqd" in text and "systemctl --user start seqd" in text
    assert info.value.socket_path == missing

    # A socket file nobody listens on: refused, not a hang.
    dead = tmp_path / "dead.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(dead))
    s.close()
    with pytest.raises(DaemonUnreachable, match="refused"):
        Client(str(dead)).ping()


def test_socket_comes_from_seqd_socket_env(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SEQD_SOCKET", str(tmp_path / "env.sock"))
    assert Client().socket_path == str(tmp_path / "env.sock")
    assert Client(str(tmp_path / "x.sock")).socket_path == str(tmp_path / "x.sock")


def test_sync_client_imports_no_asyncio() -> None:
    code = (
        "import sys\n"
        "from seqd.client import Client, RpcError, DaemonUnreachable, ProtocolError\n"
        "heavy = ('asyncio', 'pluggy', 'jsonschema', 'platformdirs')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# -- the asyncio client against scripted peers ----------------------------------------------------


def test_async_pipelines_calls_and_routes_replies_by_id(serve) -> None:
    def script(peer: Peer) -> None:
        requests = [peer.read() for _ in range(3)]  # all three in flight at once
        peer.send({"jsonrpc": "2.0", "method": "event", "params": {"n": 1}})
        for req in reversed(requests):
            peer.reply(req, req["params"]["name"])
        echo_forever(peer)

    server = serve(script)

    async def main() -> None:
        async with AsyncClient(server.path, timeout=10) as client:
            names = ["a", "b", "c"]
            got = await asyncio.gather(
                *(client.call("tasks.get", {"name": n}, result_type=str) for n in names)
            )
            assert got == names
            note = client.notifications.get_nowait()
            assert note.method == "event" and note.params == {"n": 1}
            assert await client.batch([("one", None), ("two", {"x": 1})]) == [
                ["one", None],
                ["two", {"x": 1}],
            ]

    asyncio.run(main())
    assert server.connections == 1


def test_async_notification_callback_even_a_broken_one(serve) -> None:
    def script(peer: Peer) -> None:
        for _ in range(2):
            req = peer.read()
            peer.send({"jsonrpc": "2.0", "method": "event", "params": {"id": req["id"]}})
            peer.reply(req, "pong")

    server = serve(script)
    seen: list[Notification] = []

    def callback(note: Notification) -> None:
        seen.append(note)
        raise RuntimeError("a bug in the callback")

    async def main() -> None:
        async with AsyncClient(server.path, timeout=10, on_notification=callback) as client:
            assert await client.ping() == "pong"
            assert await client.ping() == "pong"  # the reader survived the callback
            assert client.notifications.empty()

    asyncio.run(main())
    assert len(seen) == 2


def test_async_errors_garbage_and_lost_connection(serve) -> None:
    def script(peer: Peer) -> None:
        req = peer.read()
        data = {"type": "not_found", "details": {"id": "x"}}
        error = {"code": -32001, "message": "gone", "data": data}
        peer.send({"jsonrpc": "2.0", "id": req["id"], "error": error})
        peer.read()
        peer.read()
        peer.send(b"\x00garbage\n")

    server = serve(script)

    async def main() -> None:
        async with AsyncClient(server.path, timeout=None) as client:
            with pytest.raises(RpcError) as info:
                await client.get_run(NOT_A_RUN)
            assert info.value.type == "not_found" and info.value.details == {"id": "x"}
            # Two calls in flight when garbage arrives: both fail, neither hangs.
            results = await asyncio.gather(client.ping(), client.ping(), return_exceptions=True)
            assert all(isinstance(r, ProtocolError) for r in results), results

    asyncio.run(main())


def test_async_connection_closed_mid_response_fails_every_waiting_call(serve) -> None:
    def script(peer: Peer) -> None:
        peer.read()
        peer.read()
        peer.send(b'{"jsonrpc": "2.0", "id": 1, "resu')
        peer.conn.shutdown(socket.SHUT_RDWR)

    server = serve(script)

    async def main() -> None:
        client = AsyncClient(server.path, timeout=None)
        results = await asyncio.gather(client.ping(), client.status(), return_exceptions=True)
        assert all(isinstance(r, DaemonUnreachable) for r in results), results
        await client.close()

    asyncio.run(main())


def test_async_timeout_and_unreachable(serve, tmp_path: Path) -> None:
    release = threading.Event()

    def script(peer: Peer) -> None:
        peer.read()
        release.wait(10)

    server = serve(script)

    async def main() -> None:
        async with AsyncClient(server.path, timeout=0.3) as client:
            with pytest.raises(DaemonUnreachable, match="no reply"):
                await client.ping()
        with pytest.raises(DaemonUnreachable, match="no such socket"):
            await AsyncClient(str(tmp_path / "none.sock")).ping()

    try:
        asyncio.run(main())
    finally:
        release.set()


# -- against the real daemon ---------------------------------------------------------------


def wait_until(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_daemon_basics(daemon) -> None:
    with daemon.client() as c:
        assert c.ping() == "pong"
        st = c.status()
        assert st.pid == daemon.proc.pid
        assert os.path.samefile(st.socket, daemon.socket)
        assert st.tasks >= 3
        names = {t.name for t in c.tasks()}
        assert {"hello", "slow", "disk-usage"} <= names
        hello = c.task("hello")
        assert hello.type == "python" and "name" in json.dumps(hello.inputs)
        assert c.validate("hello").ok
        assert {p.name for p in c.plugins()}
        doc = c.discover()
        assert "methods" in doc


def test_daemon_submit_wait_list_logs(daemon) -> None:
    with daemon.client() as c:
        run = c.submit("hello", {"name": "Ada"}, wait=True, timeout_s=60)
        assert run.status == "succeeded", run
        assert isinstance(run.output, str) and "Ada" in run.output
        assert c.get_run(run.id).status == "succeeded"

        queued = [c.submit("hello", {"name": f"n{i}"}) for i in range(3)]
        done = [c.wait(r.id, timeout_s=60) for r in queued]
        assert all(r.status == "succeeded" for r in done)

        page = c.list_runs(task="hello", limit=2)
        assert len(page.runs) == 2 and page.next_cursor
        every = [r.id for r in c.iter_runs(task="hello", limit=1)]
        assert every == sorted(every, reverse=True)
        assert {run.id, *(r.id for r in queued)} <= set(every)

        logs = c.logs(run.id)
        assert any("Ada" in line.text for line in logs.lines)
        assert logs.finished
        assert c.logs(run.id, after=logs.next).lines == []


def test_daemon_errors_and_batch(daemon) -> None:
    with daemon.client() as c:
        with pytest.raises(RpcError) as info:
            c.get_run(NOT_A_RUN)
        assert info.value.type == "not_found"
        with pytest.raises(RpcError) as info:
            c.submit("no-such-task")
        assert info.value.type == "not_found"
        with pytest.raises(RpcError) as info:
            c.call("runs.get", {"id": NOT_A_RUN, "bogus": 1})
        assert info.value.code == -32602
        got = c.batch([("daemon.ping", None), ("runs.get", {"id": NOT_A_RUN}), ("nope.x", None)])
        assert got[0] == "pong"
        assert isinstance(got[1], RpcError) and got[1].type == "not_found"
        assert isinstance(got[2], RpcError) and got[2].code == -32601
        assert c.ping() == "pong"  # the connection survived the errors


def test_daemon_long_wait_extends_timeout_and_cancel(daemon) -> None:
    with daemon.client(timeout=0.5) as c:
        run = c.submit("slow", {"seconds": 60})
        # The server holds this call ~1.5 s, well past the 0.5 s socket timeout.
        waited = c.wait(run.id, timeout_s=1.5)
        assert waited.status in ("queued", "running")
        cancelled = c.cancel(run.id, reason="test")
        final = c.wait(run.id, timeout_s=30) if cancelled.status != "cancelled" else cancelled
        assert final.status == "cancelled"


def test_async_client_against_daemon(daemon) -> None:
    async def main() -> None:
        async with AsyncClient(daemon.socket) as c:
            pongs = await asyncio.gather(*(c.ping() for _ in range(20)))
            assert pongs == ["pong"] * 20
            runs = await asyncio.gather(
                *(
                    c.submit("hello", {"name": f"async{i}"}, wait=True, timeout_s=60)
                    for i in range(4)
                )
            )
            assert [r.status for r in runs] == ["succeeded"] * 4
            assert all("async" in r.output for r in runs)
            seen = [r.id async for r in c.iter_runs(task="hello", limit=2)]
            assert {r.id for r in runs} <= set(seen)
            with pytest.raises(RpcError):
                await c.task("no-such-task")
            assert (await c.status()).pid == daemon.proc.pid

    asyncio.run(main())
