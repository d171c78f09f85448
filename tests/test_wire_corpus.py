"""The nastiest lines the fuzzing and the attacks of issue 18 used, kept as fixed
regression tests against a real daemon: each gets exactly the answer pinned here
(its id and code; ``ok`` for a result), and the connection goes on."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Daemon

H = b'{"jsonrpc":"2.0","id":1,'
DEEP = b"[" * 3000 + b"]" * 3000
CASES: dict[str, tuple[bytes, Any, int | str]] = {
    # invalid UTF-8 anywhere: a parse error, with the id when the envelope has one
    "utf8 in params": (H + b'"method":"tasks.get","params":{"name":"\xff"}}', 1, -32700),
    "utf8 deep in an input": (
        H + b'"method":"runs.submit","params":{"task":"hello","input":{"a":[{"b":"\xc0\xaf"}]}}}',
        1,
        -32700,
    ),
    "utf8 surrogate": (H + b'"method":"tasks.get","params":{"name":"\xed\xa0\x80"}}', 1, -32700),
    "utf8 in the method": (H + b'"method":"daemon.\xffping"}', None, -32700),
    "utf8 in the id": (b'{"jsonrpc":"2.0","id":"\xff","method":"daemon.ping"}', None, -32700),
    "lone surrogate escape": (
        H + b'"method":"tasks.get","params":{"name":"\\ud800"}}',
        None,
        -32700,
    ),
    # escapes are decoded before the method is looked up (and ordered)
    "escaped method": (H + b'"method":"daemon\\u002eping"}', 1, "ok"),
    "NUL escape in the method": (H + b'"method":"daemon.ping\\u0000"}', 1, -32601),
    "not-ASCII method": (H + b'"method":"d\xc3\xa6mon.ping"}', 1, -32601),
    "100 KB method": (H + b'"method":"' + b"a" * 100_000 + b'"}', 1, -32601),
    "wait inside an input": (
        H + b'"method":"runs.submit","params":{"task":"nope","input":{"wait":true}}}',
        1,
        -32001,
    ),
    # what JSON is not
    "BOM": (b"\xef\xbb\xbf" + H + b'"method":"daemon.ping"}', None, -32700),
    "NaN": (H + b'"method":"runs.list","params":{"limit":NaN}}', None, -32700),
    "truncated": (H + b'"method":"daemon.ping"', None, -32700),
    "trailing garbage": (H + b'"method":"daemon.ping"} x', None, -32700),
    "lone bracket": (b"]", None, -32700),
    "nested 3000 deep in params": (
        H + b'"method":"runs.submit","params":{"task":"hello","input":{"a":' + DEEP + b"}}}",
        None,
        -32700,
    ),
    "nested 3000 deep": (b"{" + b'"a":{' * 3000 + b"}" * 3001, None, -32700),
    "CR before the newline": (H + b'"method":"daemon.ping"}\r', 1, "ok"),
    # numbers
    "400-digit integer": (
        H + b'"method":"runs.list","params":{"limit":' + b"9" * 400 + b"}}",
        1,
        -32602,
    ),
    "1e400": (H + b'"method":"runs.list","params":{"limit":1e400}}', 1, -32602),
    "100-digit id": (
        b'{"jsonrpc":"2.0","id":' + b"9" * 100 + b',"method":"daemon.ping"}',
        int("9" * 100),
        "ok",
    ),
    # envelopes
    "id an object": (b'{"jsonrpc":"2.0","id":{"a":1},"method":"daemon.ping"}', None, -32600),
    "id true": (b'{"jsonrpc":"2.0","id":true,"method":"daemon.ping"}', None, -32600),
    "id 1.5": (b'{"jsonrpc":"2.0","id":1.5,"method":"daemon.ping"}', None, -32600),
    "params a string": (H + b'"method":"daemon.ping","params":"x"}', 1, -32600),
    "params null": (H + b'"method":"daemon.ping","params":null}', 1, -32600),
    "method a number": (H + b'"method":5}', 1, -32600),
    "empty batch": (b"[]", None, -32600),
    "batch of 1001": (
        b"[" + b",".join([b'{"jsonrpc":"2.0","method":"daemon.ping"}'] * 1001) + b"]",
        None,
        -32600,
    ),
}
BATCHES: dict[str, tuple[bytes, list[int]]] = {
    "batch of junk": (b'[1,"x",null,{}]', [-32600] * 4),
    "nested batch": (b'[[{"jsonrpc":"2.0","id":1,"method":"daemon.ping"}]]', [-32600]),
}
PING = b'{"jsonrpc":"2.0","id":"mark","method":"daemon.ping"}\n'


class Line:
    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(30)
        self.sock.connect(path)
        self.buf = b""

    def send_and_collect(self, line: bytes) -> list[Any]:
        """Send ``line`` and a ping; every answer before the pong."""
        self.sock.sendall(line + b"\n" + PING)
        answers = []
        while True:
            while b"\n" not in self.buf:
                chunk = self.sock.recv(65536)
                assert chunk, "the daemon closed the connection"
                self.buf += chunk
            raw, _, self.buf = self.buf.partition(b"\n")
            answer = json.loads(raw)
            if isinstance(answer, dict) and answer.get("id") == "mark":
                return answers
            answers.append(answer)


@pytest.fixture(scope="module")
def conn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daemon, Line]]:
    from tests.conftest import EXAMPLES, TEST_TASKS, copy_tasks

    base = tmp_path_factory.mktemp("corpus") / "d"
    d = Daemon(base=base)
    copy_tasks(d.tasks_dir, EXAMPLES, TEST_TASKS)
    d.start()
    yield d, Line(d.socket)
    d.stop(timeout=15)
    assert "Traceback" not in d.log_text()


@pytest.mark.parametrize("name", sorted(CASES))
def test_case(conn: tuple[Daemon, Line], name: str) -> None:
    line, rid, code = CASES[name]
    [answer] = conn[1].send_and_collect(line)
    assert answer["id"] == rid
    assert (answer["error"]["code"] if "error" in answer else "ok") == code, answer


@pytest.mark.parametrize("name", sorted(BATCHES))
def test_batch_case(conn: tuple[Daemon, Line], name: str) -> None:
    line, codes = BATCHES[name]
    [answer] = conn[1].send_and_collect(line)
    assert [a["error"]["code"] for a in answer] == codes


def test_an_escaped_wait_is_served_beside_what_follows(conn: tuple[Daemon, Line]) -> None:
    wait = H + b'"method":"runs\\u002ewait","params":{"id":"nope0000"}}'
    assert conn[1].send_and_collect(wait) == []  # the ping came first
    [late] = conn[1].send_and_collect(b" ")
    assert late["id"] == 1 and late["error"]["data"]["type"] == "validation"


def test_duplicate_keys_the_last_one_counts_for_order_and_dispatch(
    conn: tuple[Daemon, Line],
) -> None:
    """msgspec keeps the last of duplicate keys; the ordering peek uses the same
    decoder, so the method ordered is the method run."""
    line = H + b'"method":"runs.wait","params":{"id":"nope0000"},"method":"runs.get"}'
    [answer] = conn[1].send_and_collect(line)  # in order: not served as a wait
    assert answer["id"] == 1 and answer["error"]["data"]["type"] == "validation"
