"""Floods of connections from the socket (issue 18, item 9), done for real against a
real daemon: a second user opening connection after connection, clients that send a
wait and shut their side, and idle ones. After each, the daemon must still answer an
admin quickly (the median of several pings on fresh connections at most 50 ms, the
issue's threshold) and its memory (RSS) must stay under the bound each test states.
tests/security/test_flood_memory.py does the same for what a connection may hold."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.security.conftest import User, other_python, setpriv
from tests.security.flooding import (
    MIB,
    admin_ping_s,
    answers_ping,
    closed_by_daemon,
    connect,
    limited,
    read_line,
    request,
    rss,
    wait_for,
)

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
