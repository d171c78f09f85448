"""Property-based fuzzing of the wire against a real daemon (issue 18, "In the suite"):
framing (any bytes, cut anywhere), dispatch (any envelope) and the params of every
method (their own field names with any JSON values). Whatever comes in, each answer is
a well-formed JSON-RPC response that is never ``-32603 internal``, the connection goes
on, and the daemon logs no traceback.

Bounded for CI: ``SEQD_FUZZ_EXAMPLES`` (default 150) examples per property, no example
database; ``tests/test_wire_corpus.py`` keeps the nastiest cases found as fixed
regression tests.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqd.rpc.protocol import METHODS
from tests.conftest import EXAMPLES, TEST_TASKS, Daemon, copy_tasks

EXAMPLES_PER_PROPERTY = int(os.environ.get("SEQD_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES_PER_PROPERTY,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
NOT_FUZZED = {"daemon.shutdown"}
"""Stopping the daemon is its answer: nothing to check after it."""
HARMLESS_TOOL = "kv.get"
DANGEROUS = ("shell.", "file.", "http.", "task.")
"""The test runs as root (an admin): a random call naming one of these tools calls
``kv.get`` instead."""
BAD_UTF8 = [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82", b"\xf4\x90\x80\x80"]
"""A byte UTF-8 never has, an overlong "/", a surrogate, a cut sequence, past U+10FFFF."""
KNOWN_CODES = {-32700, -32600, -32601, -32602, *range(-32012, -32000)}

json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=25,
)


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    base = tmp_path_factory.mktemp("fuzz") / "d"
    base.mkdir()
    d = Daemon(base=base)
    copy_tasks(d.tasks_dir, EXAMPLES, TEST_TASKS)
    d.start()
    yield d
    try:
        d.stop(timeout=15)
    except subprocess.TimeoutExpired:
        pass
    assert "Traceback" not in d.log_text(), d.log_text()[-4000:]


class Wire:
    """One connection, read line by line."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(path)
        self.buf = b""

    def line(self) -> bytes:
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            assert chunk, f"the daemon closed the connection; got {self.buf!r}"
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line

    def answers_until_pong(self, marker: str) -> list[Any]:
        """Send a ping with id ``marker`` and collect every answer up to its pong."""
        self.sock.sendall(
            json.dumps({"jsonrpc": "2.0", "id": marker, "method": "daemon.ping"}).encode() + b"\n"
        )
        seen = []
        while True:
            answer = json.loads(self.line())
            if isinstance(answer, dict) and answer.get("id") == marker:
                assert answer["result"] == "pong"
                return seen
            seen.append(answer)


def check_response(answer: Any) -> None:
    """A well-formed JSON-RPC response (or a batch of them), never an internal error."""
    for one in answer if isinstance(answer, list) else [answer]:
        assert isinstance(one, dict) and one["jsonrpc"] == "2.0", one
        assert ("result" in one) != ("error" in one), one
        if "error" in one:
            error = one["error"]
            assert error["code"] in KNOWN_CODES, one
            assert isinstance(error["message"], str) and error["data"]["type"] != "internal"


@pytest.fixture(scope="module")
def wire(fuzzed: Daemon) -> Wire:
    return Wire(fuzzed.socket)


counter = iter(range(1 << 62))


@FUZZ
@given(chunks=st.lists(st.binary(max_size=300), max_size=8))
def test_framing_any_bytes(wire: Wire, chunks: list[bytes]) -> None:
    """Bytes cut anywhere, newlines anywhere: each line gets one answer at most, the
    connection goes on (the stray partial line ends with ours, hence the newline)."""
    wire.sock.sendall(b"".join(chunks) + b"\n")
    for answer in wire.answers_until_pong(f"m{next(counter)}"):
        check_response(answer)


envelope = st.fixed_dictionaries(
    {},
    optional={
        "jsonrpc": st.sampled_from(["2.0", "1.0", 2.0]) | json_value,
        "method": st.sampled_from(sorted(set(METHODS) - NOT_FUZZED))
        | st.text(max_size=20)
        | json_value,
        "params": json_value,
        "id": st.integers(min_value=-(2**63), max_value=2**63) | st.text(max_size=10) | json_value,
        "extra": json_value,
    },
)


@FUZZ
@given(requests=st.lists(envelope, min_size=1, max_size=4), batch=st.booleans())
def test_dispatch_any_envelope(wire: Wire, requests: list[dict[str, Any]], batch: bool) -> None:
    if any(str(r.get("method")) in NOT_FUZZED for r in requests):
        return
    body = [json.dumps(requests).encode()] if batch else [json.dumps(r).encode() for r in requests]
    wire.sock.sendall(b"\n".join(body) + b"\n")
    for answer in wire.answers_until_pong(f"e{next(counter)}"):
        check_response(answer)


def _tame(params: dict[str, Any]) -> dict[str, Any]:
    name = params.get("name")
    if isinstance(name, str) and name.startswith(DANGEROUS):
        return {**params, "name": HARMLESS_TOOL}
    return params


def params_for(method: str) -> st.SearchStrategy[dict[str, Any]]:
    """Objects made of ``method``'s own params fields (any values) and stray keys."""
    names = [f.encode_name for f in msgspec.structs.fields(METHODS[method].params)]
    known = st.fixed_dictionaries({}, optional={name: json_value for name in names})
    mixed = known | st.dictionaries(st.sampled_from([*names, "zzz"]), json_value, max_size=4)
    return mixed.map(_tame) if method == "tools.call" else mixed


FUZZED_METHODS = sorted(set(METHODS) - NOT_FUZZED)


@pytest.mark.parametrize("method", FUZZED_METHODS)
def test_every_params_type(fuzzed: Daemon, method: str) -> None:
    wire = Wire(fuzzed.socket)

    @settings(FUZZ, max_examples=max(10, EXAMPLES_PER_PROPERTY // 5))
    @given(params=params_for(method), bad=st.sampled_from([b"", *BAD_UTF8]))
    def one(params: dict[str, Any], bad: bytes) -> None:
        rid = f"p{next(counter)}"
        request = {"jsonrpc": "2.0", "id": rid, "method": method, "params": params}
        raw = json.dumps(request).encode()
        at = raw.find(b': "', raw.index(b'"params": '))
        if bad and at >= 0:  # into the first string value of params: not UTF-8 any more
            raw = raw[: at + 3] + bad + raw[at + 3 :]
        wire.sock.sendall(raw + b"\n")
        for answer in wire.answers_until_pong(f"q{next(counter)}"):
            check_response(answer)

    one()
    wire.sock.close()


def test_log_has_no_traceback_after_fuzzing(fuzzed: Daemon) -> None:
    assert "Traceback" not in fuzzed.log_text()
    assert Path(fuzzed.socket).exists()
