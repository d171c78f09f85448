"""``Client(typed=False)``: the standard-library codec seqctl uses, held to the typed one.

Same requests on the wire, same replies refused, the same data (as AttrDicts) from the
real daemon — and every helper's params accepted by its method's Params Struct.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from seqd.client import (
    AttrDict,
    Client,
    Notification,
    ProtocolError,
    RpcError,
)
from seqd.client._methods import Methods
from seqd.client._plain import MissingField
from seqd.model.runs import Run
from seqd.rpc.protocol import METHODS
from seqd.rpc.runs import SubmitParams
from seqd.rpc.status import StatusResult

RUN_ID = "ab" * 12
RUN = {"id": RUN_ID, "task": "t", "status": "failed", "created_at": "2026-01-01T00:00:00Z",
       "error": {"type": "exception", "message": "boom", "details": {"line": 3}}}  # fmt: skip


class Peer:
    """A scripted server, one connection at a time: ``answer(request) -> pieces`` sent
    one by one, for each request (each entry of a batch too); request lines received
    are kept in ``seen``."""

    def __init__(self, path: Path, answer: Callable[[Any], list[bytes]]) -> None:
        self.path = str(path)
        self.seen: list[bytes] = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(4)
        self._answer = answer
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn, conn.makefile("rb") as rfile:
                for line in rfile:
                    self.seen.append(line)
                    msg = json.loads(line)
                    requests = msg if isinstance(msg, list) else [msg]
                    try:
                        for request in requests:
                            for piece in self._answer(request):
                                conn.sendall(piece)
                                time.sleep(0.005)  # so the client reads pieces apart
                    except OSError:
                        break

    def close(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)  # wakes accept(), which close() would not
        self.sock.close()
        self._thread.join(5)
        assert not self._thread.is_alive()


def reply(request: Any, result: Any) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": result}).encode() + b"\n"


@pytest.fixture
def peer(tmp_path: Path) -> Iterator[Callable[[Callable[[Any], list[bytes]]], Peer]]:
    peers: list[Peer] = []

    def start(answer: Callable[[Any], list[bytes]]) -> Peer:
        peers.append(Peer(tmp_path / f"p{len(peers)}.sock", answer))
        return peers[-1]

    yield start
    for p in peers:
        p.close()


# -- the helpers' params ------------------------------------------------------------------


def first_request(method: Any, *args: Any, **kwargs: Any) -> tuple[str, Any]:
    """The (method, params) of the first request a client method sends."""
    request = next(method.func(None, *args, **kwargs))
    return request.method, request.params


HELPER_CALLS = [
    first_request(
        Methods.submit,
        "hello",
        {"a": 1},
        wait=True,
        timeout_s=5.0,
        idempotency_key="key",
        priority=3,
    ),
    first_request(
        Methods.submit, "hello", None, wait=False, timeout_s=None, idempotency_key=None, priority=0
    ),
    first_request(Methods.tasks, "tag"),
    first_request(Methods.tasks, None),
    first_request(Methods.task, "hello"),
    first_request(Methods.validate, "hello"),
    first_request(Methods.get_run, RUN_ID),
    first_request(Methods.wait, RUN_ID, 2.5),
    first_request(Methods.list_runs, "hello", "failed", RUN_ID, 10, RUN_ID),
    first_request(Methods.list_runs, None, None, None, 50, None),
    first_request(Methods.cancel, RUN_ID, "why"),
    first_request(Methods.logs, RUN_ID, 7, 100),
    first_request(Methods.iter_runs, "hello", "failed", RUN_ID, 10, RUN_ID),
    first_request(Methods.signal, RUN_ID, "approved", {"by": "ada"}),
    first_request(Methods.retry, RUN_ID),
    first_request(Methods.steps, RUN_ID, 7, 100),
    first_request(Methods.prune_runs, 86400.0, ["failed"], "hello", dry_run=True),
    first_request(Methods.prune_runs, 0.0),
    first_request(Methods.tool, "kv.get"),
    first_request(Methods.call_tool, "kv.get", {"key": "k"}),
]


@pytest.mark.parametrize(("method", "params"), HELPER_CALLS)
def test_every_helper_sends_exactly_its_params_struct(method: str, params: Any) -> None:
    struct = METHODS[method].params
    decoded = msgspec.convert(params, struct)  # strict: a misspelt field is an error
    assert set(params) == set(struct.__struct_fields__)
    assert msgspec.to_builtins(decoded) == params


# -- against scripted peers ---------------------------------------------------------------------


def test_same_request_bytes_in_both_modes(peer) -> None:
    results = {"runs.list": {"runs": [], "next_cursor": None}, "daemon.ping": "pong"}
    server = peer(lambda req: [reply(req, results.get(req["method"], RUN))])
    for typed in (True, False):
        with Client(server.path, typed=typed) as c:
            c.submit("hello", {"name": "Ada", "n": [1, 2.5, None], "é": "ü"}, wait=True)
            c.list_runs(status="failed", limit=3)
            c.call("runs.get", SubmitParams(task="x"), Run)  # a Struct as params
            c.call("daemon.ping")
    half = len(server.seen) // 2
    assert half == 4 and server.seen[:half] == server.seen[half:]
    assert b'"\xc3\xa9":"\xc3\xbc"' in server.seen[0]  # UTF-8, not \u escapes


def test_results_are_attrdicts_read_like_the_structs(peer) -> None:
    status = {"version": "1", "storage": {"name": "sqlite", "location": "/x"},
              "runs": {"queued": 2}, "task_dirs": ["/a"]}  # fmt: skip

    def answer(req: Any) -> list[bytes]:
        if req["method"] == "daemon.status":
            return [reply(req, status)]
        if req["method"] == "runs.list":
            return [reply(req, {"runs": [RUN, RUN], "next_cursor": None})]
        return [reply(req, RUN)]

    server = peer(answer)
    with Client(server.path, typed=False) as c:
        st = c.status()
        assert isinstance(st, AttrDict) and not isinstance(st, StatusResult)
        assert st.storage.name == st["storage"]["name"] == "sqlite"
        assert st.runs.get("queued") == 2 and st.runs.get("failed") is None
        assert st.task_dirs == ["/a"]
        assert json.loads(json.dumps(st)) == status
        with pytest.raises(MissingField, match="uptime_s") as info:
            st.uptime_s  # noqa: B018 - the read is the test
        assert isinstance(info.value, ProtocolError) and isinstance(info.value, AttributeError)
        assert getattr(st, "uptime_s", "default") == "default"

        run = c.get_run(RUN_ID)
        assert run.error.details == {"line": 3} and run.status == "failed"
        assert [r.id for r in c.list_runs().runs] == [RUN_ID, RUN_ID]
        assert len(list(c.iter_runs())) == 2
        # result_type is for the typed codec; plain JSON comes back as it is.
        assert c.call("runs.get", {"id": RUN_ID}, Run) == RUN


def test_errors_and_notifications_in_plain_mode(peer) -> None:
    def answer(req: Any) -> list[bytes]:
        note = b'{"jsonrpc":"2.0","method":"event","params":{"n":1}}\n'
        error = {"code": -32001, "message": "no such run",
                 "data": {"type": "not_found", "details": {"id": ["x"]}}}  # fmt: skip
        if req["method"] == "runs.get":
            return [note, json.dumps({"jsonrpc": "2.0", "id": req["id"], "error": error}).encode()
                    + b"\n"]  # fmt: skip
        return [reply(req, "pong")]

    server = peer(answer)
    with Client(server.path, typed=False) as c:
        with pytest.raises(RpcError) as info:
            c.get_run(RUN_ID)
        assert (info.value.code, info.value.type) == (-32001, "not_found")
        assert info.value.details == {"id": ["x"]}
        (note,) = c.notifications
        assert isinstance(note, Notification) and note.params == {"n": 1}
        got = c.batch([("daemon.ping", None), ("runs.get", {"id": RUN_ID})])
        assert got[0] == "pong" and isinstance(got[1], RpcError)


def test_reply_lines_however_the_bytes_are_cut(peer) -> None:
    big = "é" * 200_000  # 1.2 MB of escaped JSON: many reads
    note = b'{"jsonrpc":"2.0","method":"event","params":{}}\n'

    def answer(req: Any) -> list[bytes]:
        line = reply(req, big)
        if req["method"] == "split":  # one line over several reads
            return [line[:5], line[5:150_001], line[150_001:]]
        return [note + line + note]  # several lines in one read

    server = peer(answer)
    for typed in (True, False):
        with Client(server.path, typed=typed) as c:
            assert c.call("split", None, str) == big
            assert c.call("joined", None, str) == big
            assert c.call("split", None, str) == big  # after the note left over
            assert len(c.notifications) == 2


@pytest.mark.parametrize(
    "garbage",
    [
        b"this is not json\n",
        b'{"jsonrpc": "2.0", "result": 1}\n',  # no id
        b'{"jsonrpc": "2.0", "id": 1}\n',  # neither result nor error
        b"[1, 2]\n",
        b'{"jsonrpc": "2.0", "id": 999, "result": 1}\n',  # an id never sent
        b'{"jsonrpc": "2.0", "id": true, "result": 1}\n',
        b'{"jsonrpc": "2.0", "id": 1, "error": {"message": "no code"}}\n',
        b'{"jsonrpc": "2.0", "id": 1, "error": null}\n',
        b'{"jsonrpc": 2, "id": 1, "result": 1}\n',
        b'{"jsonrpc": "2.0", "id": 1, "result": NaN}\n',
        b"\xff\xfe\x00garbage\n",
        b"[" * 100_000 + b"\n",
    ],
)
def test_garbage_is_refused_alike_in_both_modes(peer, garbage: bytes) -> None:
    server = peer(lambda req: [garbage.replace(b'"id": 1,', f'"id": {req["id"]},'.encode())])
    for typed in (True, False):
        with Client(server.path, typed=typed, timeout=10) as c, pytest.raises(ProtocolError):
            c.ping()


# -- imports, and the real daemon ---------------------------------------------------------------


def test_plain_client_imports_no_msgspec(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from seqd.client import Client, DaemonUnreachable\n"
        f"c = Client({str(tmp_path / 'none.sock')!r}, typed=False)\n"
        "try:\n    c.ping()\nexcept DaemonUnreachable:\n    pass\n"
        "print(sorted(m for m in ('msgspec', 'typing', 'seqd.rpc.protocol') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_plain_and_typed_agree_on_the_daemon(daemon) -> None:
    with daemon.client() as typed, Client(daemon.socket, typed=False) as plain:
        run = plain.submit("hello", {"name": "Ada"}, wait=True, timeout_s=60)
        assert run.status == "succeeded" and "Ada" in run.output
        assert msgspec.to_builtins(typed.get_run(run.id)) == plain.get_run(run.id)
        assert set(plain.status()) == set(StatusResult.__struct_fields__)
        assert msgspec.to_builtins(typed.task("hello")) == plain.task("hello")
        assert msgspec.to_builtins(typed.logs(run.id)) == plain.logs(run.id)
        assert plain.discover() == typed.discover()
        assert plain.ping() == "pong"
