"""What one connection, or all of them, may hold (issue 18, item 10), done for real
against a real daemon: thousands of waits on one connection, connections holding huge
partial lines, lines queued behind a request that waits, and slow methods spelled to
slip past a text match. After each, an admin's ping (median of several, fresh
connections) takes at most 50 ms and the daemon's RSS grew less than the bound stated."""

from __future__ import annotations

import json
import select
import socket
import sqlite3
import time
from typing import Any

from tests.security.flooding import (
    MIB,
    admin_ping_s,
    closed_by_daemon,
    connect,
    limited,
    read_line,
    request,
    rss,
    wait_for,
)


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
