"""Floods of the daemon's log (issue 18, item 11): invalid UTF-8 inside ``params`` is a
parse error (-32700) and logs nothing, notifications included; a warning repeated by
every request (a storage outage) is said a few times, then counted."""

from __future__ import annotations

import json
import logging
import socket
import sqlite3
import time
from typing import Any

import pytest

from seqd.client import RpcError
from seqd.daemon.logrepeat import RepeatFilter


def test_invalid_utf8_in_params_is_a_parse_error_and_logs_nothing(make_daemon: Any) -> None:
    d = make_daemon()
    size = d.log_path.stat().st_size
    bad = (
        b'{"jsonrpc":"2.0","method":"runs.submit",'
        b'"params":{"task":"hello","input":{"n":"\xff\xfe"}}'
    )
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(d.socket)
        s.settimeout(30)
        s.sendall((bad + b"}\n") * 3000)  # notifications: never answered
        s.sendall(bad + b',"id":7}\n' + b'{"jsonrpc":"2.0","id":8,"method":"daemon.ping"}\n')
        buf = b""
        while buf.count(b"\n") < 2:
            chunk = s.recv(65536)
            assert chunk
            buf += chunk
    first, second = (json.loads(line) for line in buf.splitlines())
    assert first["id"] == 7 and first["error"]["code"] == -32700
    assert first["error"]["data"]["details"] == {"field": "params"}
    assert second == {"jsonrpc": "2.0", "id": 8, "result": "pong"}
    log = d.log_text()
    assert "Traceback" not in log
    assert d.log_path.stat().st_size - size < 4096


def test_a_storage_outage_warns_a_few_times_then_counts(make_daemon: Any) -> None:
    d = make_daemon(args=["--storage-opt", "busy_timeout_ms=20"])
    lock = sqlite3.connect(d.state_dir / "seqd.db", isolation_level=None, timeout=30)
    lock.execute("BEGIN EXCLUSIVE")
    refused = 0
    try:
        with d.client() as c:
            for _ in range(200):
                with pytest.raises(RpcError) as err:
                    c.submit("noop")
                refused += err.value.type == "storage_unavailable"
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert refused == 200
    deadline = time.monotonic() + 30  # the count comes when its 10 s window ends
    while "(repeated" not in d.log_text():
        assert time.monotonic() < deadline, d.log_text()[-2000:]
        time.sleep(0.2)
    warnings = [line for line in d.log_text().splitlines() if "WARNING" in line]
    counted = [line for line in warnings if "(repeated" in line]
    assert len(warnings) - len(counted) <= 15, warnings  # 5 a window, at most 3 windows
    total = sum(
        int(line.rsplit("(repeated ", 1)[1].split()[0].replace(",", "")) for line in counted
    )
    assert total >= 100  # each refused submit tried to write at least once


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def record(msg: str, *args: object, level: int = logging.WARNING) -> logging.LogRecord:
    return logging.LogRecord("seqd.x", level, __file__, 1, msg, args, None)


def test_repeat_filter_passes_a_burst_then_counts_per_template() -> None:
    out: list[logging.LogRecord] = []
    clock = Clock()
    f = RepeatFilter(out.append, window_s=10, burst=3, clock=clock)
    passed = [f.filter(record("run %s: storage down", i)) for i in range(2341 + 3)]
    assert passed.count(True) == 3  # the same template, whatever its arguments
    assert f.filter(record("another warning"))  # its own group
    assert f.filter(record("quiet info %s", 1, level=logging.INFO))  # below WARNING: all
    clock.now += 5
    f.flush()
    assert out == []  # the window is not over
    clock.now += 5
    f.flush()
    assert [r.getMessage() for r in out] == [
        "run 2343: storage down (repeated 2,341 times in 10 s)"
    ]
    assert f.filter(out[0])  # the count itself passes
    assert f.filter(record("run %s: storage down", 1))  # a new window, a new burst
    assert f.pending() == 0


def test_repeat_filter_says_what_it_still_counts_at_the_end() -> None:
    out: list[logging.LogRecord] = []
    f = RepeatFilter(out.append, window_s=10, burst=1, clock=Clock())
    for _ in range(4):
        f.filter(record("same"))
    assert f.pending() == 3
    f.flush(everything=True)
    assert [r.getMessage() for r in out] == ["same (repeated 3 times in 1 s)"]
