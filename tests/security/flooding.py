"""What the flood tests share: raw connections, an admin's ping timed, the daemon's
RSS, a daemon with a ``[limits]`` section."""

from __future__ import annotations

import json
import socket
import statistics
import time
from typing import Any

import psutil

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
