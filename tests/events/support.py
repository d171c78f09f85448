"""A raw connection to a daemon's socket, for what the clients hide: the order of lines,
a client that does not read, a half-closed connection."""

from __future__ import annotations

import json
import select
import socket
import time
from pathlib import Path
from typing import Any

TASKS = Path(__file__).resolve().parent / "tasks"


class Raw:
    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buffer = b""
        self.next_id = 0
        self.early: list[dict[str, Any]] = []
        """Events read while waiting for a reply (of earlier subscriptions)."""

    def request(self, method: str, params: dict[str, Any] | None = None) -> int:
        self.next_id += 1
        message = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            message["params"] = params
        self.sock.sendall(json.dumps(message).encode() + b"\n")
        return self.next_id

    def message(self, timeout: float = 10.0) -> dict[str, Any]:
        """The next message; fails if none comes within ``timeout``."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.sock], [], [], left)[0]:
                raise AssertionError(f"no message within {timeout}s")
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise EOFError("the daemon closed the connection")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """The reply to one request; events that come first are kept for ``events``."""
        rid = self.request(method, params)
        while True:
            reply = self.message()
            if reply.get("method") != "event":
                assert reply.get("id") == rid, reply
                return reply
            self.early.append(reply["params"])

    def events(self, until: Any, timeout: float = 20.0) -> list[dict[str, Any]]:
        """Event params up to and including the first for which ``until(params)``."""
        found: list[dict[str, Any]] = []
        while self.early:
            found.append(self.early.pop(0))
            if until(found[-1]):
                return found
        deadline = time.monotonic() + timeout
        while True:
            message = self.message(max(0.1, deadline - time.monotonic()))
            assert message.get("method") == "event", message
            found.append(message["params"])
            if until(message["params"]):
                return found

    def close(self) -> None:
        self.sock.close()


def topic(name: str) -> Any:
    return lambda params: params["topic"] == name


def runs_of(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(run id, status) of each run event, in order."""
    return [(e["run"]["id"], e["run"]["status"]) for e in events if e["topic"] == "run"]
