"""The socket edge against a real daemon: framing, limits, hostile clients."""

from __future__ import annotations

import json
import os
import socket
import stat
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only for annotations: 'conftest' may name another package's module
    from conftest import Daemon


def raw(daemon: Daemon) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(daemon.socket)
    return s


def roundtrip(s: socket.socket, payload: bytes) -> Any:
    s.sendall(payload)
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    return json.loads(buf)


def ping(daemon: Daemon) -> None:
    with raw(daemon) as s:
        assert (
            roundtrip(s, b'{"jsonrpc":"2.0","id":1,"method":"daemon.ping"}\n')["result"] == "pong"
        )


def test_socket_mode_is_0660(daemon: Daemon) -> None:
    assert stat.S_IMODE(os.stat(daemon.socket).st_mode) == 0o660


def test_garbage_gets_typed_errors_and_daemon_keeps_serving(daemon: Daemon) -> None:
    with raw(daemon) as s:
        for payload, code in [
            (b"{nope\n", -32700),
            (b"[1]\n", None),
            (b'"str"\n', -32600),
            (b'{"jsonrpc":"2.0","id":1,"method":"x.y"}\n', -32601),
            (b'{"jsonrpc":"2.0","id":1,"method":"runs.get","params":{"id":1}}\n', -32602),
            (b"\xff\xfe\x00garbage\n", -32700),
        ]:
            out = roundtrip(s, payload)
            if code is None:
                assert out[0]["error"]["code"] == -32600
            else:
                assert out["error"]["code"] == code, out
        # the same connection still works
        assert roundtrip(s, b'{"jsonrpc":"2.0","id":9,"method":"daemon.ping"}\n')["id"] == 9


def test_pipelined_requests_answer_in_order(daemon: Daemon) -> None:
    with raw(daemon) as s:
        lines = b"".join(
            b'{"jsonrpc":"2.0","id":%d,"method":"daemon.ping"}\n' % i for i in range(200)
        )
        s.sendall(lines)
        buf = b""
        while buf.count(b"\n") < 200:
            buf += s.recv(65536)
        ids = [json.loads(line)["id"] for line in buf.splitlines()]
        assert ids == list(range(200))


def test_oversize_line_errors_and_closes(make_daemon: Any) -> None:
    d = make_daemon(env={}, args=[])
    # Default limit is 16 MiB; send 17 MiB without a newline.
    with raw(d) as s:
        chunk = b"x" * (1 << 20)
        try:
            for _ in range(17):
                s.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = b""
        try:
            while True:
                part = s.recv(65536)
                if not part:
                    break
                data += part
        except ConnectionResetError:
            pass
        first = json.loads(data.splitlines()[0])
        assert first["error"]["code"] == -32600
        assert "longer than" in first["error"]["message"]
    ping(d)


def test_client_disconnecting_mid_request(daemon: Daemon) -> None:
    for _ in range(20):
        s = raw(daemon)
        s.sendall(
            b'{"jsonrpc":"2.0","id":1,"method":"runs.submit","params":{"task":"slow",'
            b'"input":{"seconds":0.1},"wait":true}}\n'
        )
        s.close()
        s = raw(daemon)
        s.sendall(b'{"jsonrpc":"2.0","id":1,"meth')
        s.close()
    ping(daemon)
    with daemon.client() as c:
        # Every request that arrived whole is served, though nobody hears the answer:
        # 20 runs, none half-made (they may still be on their way in).
        deadline = time.monotonic() + 30
        runs = c.list_runs(task="slow").runs
        while len(runs) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
            runs = c.list_runs(task="slow").runs
        assert len(runs) == 20
        for r in runs:
            assert c.wait(r.id, timeout_s=120).status == "succeeded"


def test_thousand_idle_connections(daemon: Daemon) -> None:
    conns = []
    try:
        for _ in range(1000):
            conns.append(raw(daemon))
        ping(daemon)
        with daemon.client() as c:
            assert c.status().connections >= 1000
    finally:
        for s in conns:
            s.close()
    deadline = time.monotonic() + 10
    with daemon.client() as c:
        while c.status().connections > 5 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert c.status().connections <= 5


def test_batch_over_socket(daemon: Daemon) -> None:
    with raw(daemon) as s:
        out = roundtrip(
            s,
            b'[{"jsonrpc":"2.0","id":1,"method":"daemon.ping"},'
            b'{"jsonrpc":"2.0","id":2,"method":"tasks.get","params":{"name":"hello"}}]\n',
        )
        assert out[0]["result"] == "pong"
        assert out[1]["result"]["name"] == "hello"


def test_discover_matches_golden(daemon: Daemon) -> None:
    from pathlib import Path

    golden = Path(__file__).parent / "golden" / "openrpc.json"
    with daemon.client() as c:
        doc = c.call("rpc.discover")
    assert doc == json.loads(golden.read_text()), (
        "rpc.discover changed: if on purpose, regenerate with "
        "`python -m seqd.rpc.openrpc > tests/golden/openrpc.json` and note it in CHANGELOG.md"
    )


def test_end_of_input_cancels_waits_and_answers_the_rest(daemon: Daemon) -> None:
    """``echo '{...}' | socat - UNIX-CONNECT:...`` closes its side right after sending:
    the requests already read are answered, a waiting one is cancelled (its run goes
    on), then the daemon closes the connection (docs/protocol.md, "End of input")."""
    with daemon.client() as c:
        run = c.submit("slow", {"seconds": 60})
        with raw(daemon) as s:
            s.sendall(
                b'{"jsonrpc":"2.0","id":1,"method":"runs.wait","params":{"id":"'
                + run.id.encode()
                + b'","timeout_s":120}}\n'
                b'{"jsonrpc":"2.0","id":2,"method":"tasks.list"}\n'
            )
            s.shutdown(socket.SHUT_WR)
            data = b""
            while chunk := s.recv(65536):  # the daemon closes: recv returns b""
                data += chunk
        answers = {json.loads(line)["id"]: json.loads(line) for line in data.splitlines()}
        assert list(answers) == [2] and answers[2]["result"]["tasks"]
        assert c.get_run(run.id).status in ("queued", "running")
        assert c.status().connections == 1  # only this client's
        c.cancel(run.id)


def test_absurdly_nested_line_gets_an_answer_and_the_connection_goes_on(
    daemon: Daemon,
) -> None:
    deep = b"[" * 5000 + b"]" * 5000
    with raw(daemon) as s:
        s.sendall(
            b'{"jsonrpc":"2.0","id":1,"method":"runs.list"}\n'
            b'{"jsonrpc":"2.0","id":2,"method":"runs.get","params":{"id":'
            + deep
            + b"}}\n"
            + deep
            + b"\n"
            b'{"jsonrpc":"2.0","id":3,"method":"daemon.ping"}\n'
        )
        buf = b""
        while buf.count(b"\n") < 4:
            chunk = s.recv(65536)
            assert chunk, buf
            buf += chunk
    answers = [json.loads(line) for line in buf.splitlines()]
    assert answers[0]["id"] == 1 and "result" in answers[0]
    assert answers[1]["error"]["code"] in (-32700, -32600, -32602)
    assert answers[2]["error"]["code"] in (-32700, -32600)
    assert answers[3] == {"jsonrpc": "2.0", "id": 3, "result": "pong"}
