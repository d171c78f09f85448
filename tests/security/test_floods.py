"""Floods from the socket (issue 18, items 9 and 10), done for real against a real
daemon: a second user opening connection after connection, clients that leave a wait
pending and go, one connection with thousands of waits, connections holding huge
partial lines, and idle ones. After each, the daemon must still answer an admin
quickly (the median of several pings on fresh connections at most 50 ms, the issue's
threshold) and its memory (RSS) must stay under the bound each test states."""

from __future__ import annotations

import json
import select
import socket
import sqlite3
import statistics
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psutil

from tests.security.conftest import User, other_python, setpriv

PING = b'{"jsonrpc":"2.0","id":"ping","method":"daemon.ping"}\n'
MIB = 1024 * 1024


def connect(path: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(path)
    return s


def read_line(s: socket.socket, buf: bytearray | None = None) -> dict[str, Any]:
    buf = bytearray() if buf is None else buf
    while b"\n" not in buf:
        chunk = s.recv(65536)
        assert chunk, f"connection closed; got {bytes(buf)!r}"
        buf += chunk
    line, _, rest = bytes(buf).partition(b"\n")
    buf[:] = rest
    return json.loads(line)  # type: ignore[no-any-return]


def closed_by_daemon(s: socket.socket, timeout: float = 30) -> bytes:
    """Everything the daemon still sends before it closes ``s`` (fails if it does not)."""
    s.settimeout(timeout)
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    return data


def admin_ping_s(path: str, times: int = 9) -> float:
    """The median time of a ping on a fresh connection (as root: an admin)."""
    took = []
    for _ in range(times):
        started = time.perf_counter()
        with connect(path) as s:
            s.sendall(PING)
            assert read_line(s)["result"] == "pong"
        took.append(time.perf_counter() - started)
    return statistics.median(took)


def answers_ping(path: str) -> bool:
    """Whether a fresh connection gets its ping answered (not refused)."""
    with connect(path) as s:
        s.sendall(PING)
        return "result" in read_line(s)


def rss(d: Any) -> int:
    return psutil.Process(d.proc.pid).memory_info().rss  # type: ignore[no-any-return]


def request(method: str, params: dict[str, Any], rid: object) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}).encode()


def limited(make_daemon: Any, tmp_path: Any, limits: str, *args: str) -> Any:
    """A daemon started with ``limits`` (TOML lines) as its ``[limits]`` section."""
    config = tmp_path / "limits.toml"
    config.write_text("[limits]\n" + limits)
    return make_daemon(args=["--config", str(config), *args])


def wait_for(check: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


HOLDER = r"""
import json, select, socket, sys
path, count, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
held, refused = [], []
for _ in range(count):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    if mode in ("wait", "half-open"):
        s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"runs.wait","params":{"id":"'
                  + sys.argv[4].encode() + b'","timeout_s":600}}\n')
    if mode == "half-open":
        s.shutdown(socket.SHUT_WR)  # end of input, but the socket stays open here
    held.append(s)
buffers = {s: b"" for s in held}
pending = set(held)
while pending:  # refusals are one line, then the daemon closes
    ready, _, _ = select.select(list(pending), [], [], 2.0)
    if not ready:
        break
    for s in ready:
        chunk = s.recv(65536)
        buffers[s] += chunk
        if not chunk or b"\n" in buffers[s]:
            pending.discard(s)
for s, data in buffers.items():
    if data:
        refused.append(json.loads(data.split(b"\n")[0])["error"]["data"]["details"])
print(json.dumps({"opened": count, "refused": refused}), flush=True)
sys.stdin.read()  # hold the connections until told to go
"""


@contextmanager
def held_by(user: User, path: str, count: int, *extra: str) -> Iterator[dict[str, Any]]:
    """``user`` opens ``count`` connections to ``path`` and holds them: yields what
    the daemon refused (the details of each refusal)."""
    argv = [*setpriv(user), other_python(), "-c", HOLDER, path, str(count), *extra]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd="/")
    assert proc.stdout is not None and proc.stdin is not None
    try:
        line = proc.stdout.readline()
        assert line, f"the holder failed (exit {proc.wait()})"
        yield json.loads(line)
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


LIMITS = """
[limits]
max_connections = 120
admin_reserved_connections = 20
max_connections_per_uid = 60
"""


def test_one_user_cannot_take_more_than_its_share_of_connections(
    open_daemon: Any, other: User
) -> None:
    d = open_daemon(LIMITS)
    with held_by(other, d.socket, 200, "idle") as outcome:
        assert len(outcome["refused"]) == 140
        assert {r["scope"] for r in outcome["refused"]} == {"uid"}
        assert {r["uid"] for r in outcome["refused"]} == {other.uid}
        assert all(r["limit"] == 60 for r in outcome["refused"])
        assert admin_ping_s(d.socket) <= 0.05
        with d.client() as c:
            assert c.status().connections == 61
    with d.client() as c:
        wait_for(lambda: c.status().connections == 1)


def test_a_flood_never_takes_the_admin_slots(open_daemon: Any, other: User) -> None:
    d = open_daemon(LIMITS.replace("max_connections_per_uid = 60", "max_connections_per_uid = 500"))
    with held_by(other, d.socket, 200, "idle") as outcome:
        assert len(outcome["refused"]) == 100  # 120 slots, 20 of them kept for admins
        assert {r["scope"] for r in outcome["refused"]} == {"total"}
        before = rss(d)
        admins = [connect(d.socket) for _ in range(20)]  # root: an admin
        try:
            with connect(d.socket) as s:  # the 121st: past every slot, even an admin's
                error = read_line(s)["error"]
                assert error["data"]["details"] == {"limit": 120, "scope": "total"}
            for s in admins[:5]:
                s.close()
            wait_for(lambda: answers_ping(d.socket))  # the daemon saw them go
            assert admin_ping_s(d.socket) <= 0.05
        finally:
            for s in admins:
                s.close()
        assert rss(d) - before < 20 * MIB


def test_clients_that_leave_with_a_wait_pending_leave_nothing(
    open_daemon: Any, other: User
) -> None:
    """4,000 clients that sent ``runs.wait`` and shut their side once kept their
    connections half-open and locked everyone out: now end of input cancels the wait
    and closes the connection, whether the client is gone or still holds its socket."""
    d = open_daemon("[limits]\nmax_connections_per_uid = 1000\n")
    with d.client() as c:
        run = c.submit("slow", {"seconds": 300})
        before = rss(d)
        for _ in range(2):
            with held_by(other, d.socket, 500, "half-open", run.id) as outcome:
                # every connection was closed by the daemon: the holder read its end
                assert outcome["refused"] == []
                wait_for(lambda: c.status().connections == 1)
            with held_by(other, d.socket, 500, "wait", run.id) as outcome:
                assert outcome["refused"] == []
            wait_for(lambda: c.status().connections == 1)  # the holder is gone
        assert c.get_run(run.id).status == "running"
        assert admin_ping_s(d.socket) <= 0.05
        grown = rss(d) - before
        assert grown < 32 * MIB, grown
        c.cancel(run.id)


def test_a_wait_flood_on_one_connection_is_bounded(make_daemon: Any, tmp_path: Any) -> None:
    d = limited(
        make_daemon, tmp_path, "max_pending_per_connection = 500\nmax_pending_total = 800\n"
    )
    with d.client() as c:
        run = c.submit("slow", {"seconds": 300})
    before = rss(d)
    lines = [request("runs.wait", {"id": run.id, "timeout_s": 600}, i) + b"\n" for i in range(2000)]
    waits = b"".join(lines)
    first, second = connect(d.socket), connect(d.socket)
    try:
        first.sendall(waits)
        buf = bytearray()
        answers = [read_line(first, buf) for _ in range(1500)]
        assert {a["error"]["data"]["type"] for a in answers} == {"rate_limited"}
        assert {a["error"]["data"]["details"]["scope"] for a in answers} == {"connection"}
        assert sorted(a["id"] for a in answers) == list(range(500, 2000))
        second.sendall(b"".join(lines[:500]))
        buf2 = bytearray()
        refused = [read_line(second, buf2) for _ in range(200)]  # 800 in the daemon
        assert {a["error"]["data"]["details"]["scope"] for a in refused} == {"total"}
        assert admin_ping_s(d.socket) <= 0.05
        assert rss(d) - before < 48 * MIB
    finally:
        first.close()
        second.close()
    with d.client() as c:  # the waits went with their connections: room for new ones
        wait_for(lambda: c.status().connections == 1)
        with connect(d.socket) as s:
            s.sendall(request("runs.wait", {"id": run.id, "timeout_s": 0.1}, "w") + b"\n")
            assert read_line(s)["id"] == "w"
        c.cancel(run.id)


def test_partial_lines_are_bounded_in_total(make_daemon: Any, tmp_path: Any) -> None:
    """40 connections each holding 15 MB of a line once cost 724 MB."""
    d = limited(make_daemon, tmp_path, "max_buffered_bytes_total = 33554432\n")  # 32 MiB
    before = rss(d)
    chunk = b'{"jsonrpc":"2.0","id":1,"method":"daemon.ping","params":{"x":"' + b"a" * (4 * MIB)
    holders: list[socket.socket] = []
    closed: set[socket.socket] = set()
    errors: list[dict[str, Any]] = []
    try:
        for _ in range(20):
            s = connect(d.socket)
            holders.append(s)
            try:
                s.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                closed.add(s)  # closed before it sent it all
        for s in holders:  # those past 32 MiB in all got an error and were closed
            ready, _, _ = select.select([s], [], [], 0.5)
            if not ready:
                continue
            closed.add(s)
            try:
                data = closed_by_daemon(s)
            except ConnectionResetError:
                continue
            if data:
                errors.append(json.loads(data.splitlines()[0])["error"]["data"]["details"])
        assert errors and all(e == {"limit": 32 * MIB, "scope": "total"} for e in errors)
        assert len(closed) >= 12  # at most 8 partial lines of 4 MiB fit in 32 MiB
        assert admin_ping_s(d.socket) <= 0.05
        assert rss(d) - before < 100 * MIB
    finally:
        for s in holders:
            s.close()


def test_an_escaped_wait_holds_up_nothing(make_daemon: Any) -> None:
    """``"runs\\u002ewait"`` is ``runs.wait``: served beside the lines after it, which
    are answered (and their bytes let go) while it waits; 40 lines of 15 MB once
    queued up behind it."""
    d = make_daemon()
    with d.client() as c:
        run = c.submit("slow", {"seconds": 300})
    before = rss(d)
    wait = request("runs.wait", {"id": run.id, "timeout_s": 600}, "w").replace(
        b'"runs.wait"', b'"runs\\u002ewait"'
    )
    big = [
        request("daemon.ping", {}, i)[:-1] + b',"x":"' + b"a" * (15 * MIB) + b'"}' for i in range(3)
    ]
    with connect(d.socket) as s:
        s.sendall(wait + b"\n")
        buf = bytearray()
        for i in range(12):
            s.sendall(big[i % 3] + b"\n")
            answer = read_line(s, buf)
            assert answer["id"] == i % 3
            assert answer["error"]["data"]["type"] == "invalid_request"  # an unknown member
        assert rss(d) - before < 120 * MIB
        assert admin_ping_s(d.socket) <= 0.05
    with d.client() as c:
        c.cancel(run.id)


def test_lines_queued_behind_a_waiting_request_stop_the_reading(
    make_daemon: Any, tmp_path: Any
) -> None:
    """A request answered in order that has to wait (a submit while storage is locked)
    holds up the lines after it; once those hold a line's worth of bytes the daemon
    stops reading the connection, so the client cannot push more into its memory."""
    d = limited(
        make_daemon, tmp_path, "max_line_bytes = 1048576\n", "--storage-opt", "busy_timeout_ms=8000"
    )
    lock = sqlite3.connect(d.state_dir / "seqd.db", isolation_level=None, timeout=30)
    lock.execute("BEGIN EXCLUSIVE")
    pad = request("daemon.ping", {}, 0)[:-1] + b',"x":"' + b"a" * (256 * 1024) + b'"}\n'
    sent = 0
    try:
        with connect(d.socket) as s:
            s.sendall(request("runs.submit", {"task": "noop"}, "first") + b"\n")
            s.setblocking(False)
            stream = memoryview(pad * 200)  # 50 MiB of whole lines, sent as they go
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline and sent < len(stream):
                try:
                    sent += s.send(stream[sent : sent + 65536])
                except BlockingIOError:
                    time.sleep(0.01)
            # read: a line and a half, plus what the kernel buffers both ways
            assert sent < 6 * MIB, sent
            assert admin_ping_s(d.socket) <= 0.05
    finally:
        lock.execute("ROLLBACK")
        lock.close()


def test_order_is_decided_from_the_decoded_method(make_daemon: Any, tmp_path: Any) -> None:
    """With room for one waiting request per connection, a second ``runs.wait``
    spelled with an escape is refused (it is one), and a submit whose *input* says
    ``"wait": true`` is not (it is no waiting submit)."""
    d = limited(make_daemon, tmp_path, "max_pending_per_connection = 1\n")
    with d.client() as c:
        run = c.submit("slow", {"seconds": 300})
    plain = request("runs.wait", {"id": run.id, "timeout_s": 600}, 1)
    escaped = plain.replace(b'"runs.wait"', b'"runs\\u002ewait"').replace(b'"id": 1', b'"id": 2')
    submit = request("runs.submit", {"task": "pyecho", "input": {"wait": True}}, 3)
    with connect(d.socket) as s:
        s.sendall(plain + b"\n" + escaped + b"\n" + submit + b"\n")
        buf = bytearray()
        first, second = read_line(s, buf), read_line(s, buf)
        assert first["id"] == 2 and first["error"]["data"]["type"] == "rate_limited"
        assert second["id"] == 3 and second["result"]["task"] == "pyecho"
    with d.client() as c:
        c.cancel(run.id)


def test_idle_connections_are_closed_busy_ones_are_not(make_daemon: Any, tmp_path: Any) -> None:
    d = limited(make_daemon, tmp_path, "idle_timeout_s = 1.0\n")
    with d.client() as c:
        run = c.submit("slow", {"seconds": 300})
    idle, trickle, waiting, subscribed = (connect(d.socket) for _ in range(4))
    waiting.sendall(request("runs.wait", {"id": run.id, "timeout_s": 600}, 1) + b"\n")
    subscribed.sendall(request("events.subscribe", {"topics": ["run"]}, 2) + b"\n")
    assert "result" in read_line(subscribed)
    trickle.sendall(b'{"jsonrpc":"2.0",')
    deadline = time.monotonic() + 4
    try:
        while time.monotonic() < deadline:  # a byte now and then is no request
            trickle.sendall(b" ")
            time.sleep(0.2)
        raise AssertionError("a trickle kept its connection open")
    except (BrokenPipeError, ConnectionResetError):
        pass  # closed by the daemon
    assert closed_by_daemon(idle, timeout=10) == b""
    for s in (waiting, subscribed):
        s.setblocking(False)
        try:
            assert s.recv(65536) != b"", "closed though it holds something"
        except BlockingIOError:
            pass  # open, nothing to read: as it should be
        s.close()
    with d.client() as c:
        c.cancel(run.id)


def test_a_client_left_idle_calls_again(make_daemon: Any, tmp_path: Any) -> None:
    """The daemon closed its idle connection; the next call opens a new one."""
    d = limited(make_daemon, tmp_path, "idle_timeout_s = 0.5\n")
    with d.client() as c:
        assert c.ping() == "pong"
        first = c._sock
        wait_for(lambda: c._sock is not None and _closed(c._sock))
        assert c.ping() == "pong"
        assert c._sock is not first


def _closed(sock: Any) -> bool:
    from seqd.client.sync import _closed_by_peer

    return _closed_by_peer(sock)
