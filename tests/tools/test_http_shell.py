"""http.request against a local server started here; shell.exec through the process
engine the shell task type uses (timeouts end the whole process group)."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from seqd.builtin.tools.http import host_allowed
from seqd.errors import PermissionDenied, SeqdError, Timeout, ToolFailed, ValidationFailed
from seqd.plugins.tools import ToolCaller
from tests.tools.conftest import RPC, Env, run_caller


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def _send(
        self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/json":
            self._send(200, b'{"ok": true, "n": [1, 2]}', "application/json")
        elif self.path == "/big":
            self._send(200, b"x" * 100_000, "text/plain")
        elif self.path == "/slow":
            time.sleep(2)
            self._send(200, b"late", "text/plain")
        elif self.path.startswith("/redirect"):
            target = self.path.split("to=", 1)[1]
            self._send(302, b"", "text/plain", {"Location": target})
        elif self.path == "/headers":
            body = json.dumps({k.lower(): v for k, v in self.headers.items()}).encode()
            self._send(200, body, "application/json")
        else:
            self._send(404, b"nothing here", "text/plain")

    def do_HEAD(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()

    def do_POST(self) -> None:  # noqa: N802
        data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps({"got": data.decode(), "type": self.headers.get("Content-Type")})
        self._send(201, body.encode(), "application/json")


@pytest.fixture
def server() -> Iterator[str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


def call(env: Env, name: str, params: dict, caller=RPC, **config) -> dict:  # type: ignore[no-untyped-def]
    """One call on a fresh service; the local test server's loopback network is allowed
    (tests/security/test_http_addresses.py shows it is refused by default)."""
    config.setdefault("http_allow_networks", ["127.0.0.0/8"])

    async def main() -> dict:  # type: ignore[type-arg]
        async with env.service(**config) as svc:
            return await svc.call(name, params, caller)  # type: ignore[no-any-return]

    return env.run(main())


def fails(env: Env, name: str, params: dict, caller=RPC, **config) -> SeqdError:  # type: ignore[no-untyped-def]
    with pytest.raises(SeqdError) as info:
        call(env, name, params, caller, **config)
    return info.value


def test_http_get_json_text_and_status(env: Env, server: str) -> None:
    got = call(env, "http.request", {"url": f"{server}/json"})
    assert got["status"] == 200 and got["json"] == {"ok": True, "n": [1, 2]}
    assert got["body"] is None and got["headers"]["content-type"] == "application/json"
    missing = call(env, "http.request", {"url": f"{server}/nope"})
    assert missing["status"] == 404 and missing["body"] == "nothing here"
    head = call(env, "http.request", {"url": f"{server}/json", "method": "HEAD"})
    assert head["status"] == 200 and head["size"] == 0


def test_http_post_body_json_and_headers(env: Env, server: str) -> None:
    posted = call(env, "http.request", {"url": f"{server}/p", "method": "POST", "json": {"a": 1}})
    assert posted["status"] == 201
    assert posted["json"] == {"got": '{"a":1}', "type": "application/json"}
    headers = {"Content-Type": "text/x"}
    text = call(
        env,
        "http.request",
        {"url": f"{server}/p", "method": "POST", "body": "hi", "headers": headers},
    )
    assert text["json"] == {"got": "hi", "type": "text/x"}
    sent = call(env, "http.request", {"url": f"{server}/headers", "headers": {"X-Trace": "42"}})
    assert sent["json"]["x-trace"] == "42"
    err = fails(env, "http.request", {"url": f"{server}/p", "body": "a", "json": 1})
    assert isinstance(err, ValidationFailed) and err.details["field"] == "params.json"


def test_http_response_is_size_capped(env: Env, server: str) -> None:
    got = call(env, "http.request", {"url": f"{server}/big", "max_bytes": 1000})
    assert got["truncated"] is True and got["size"] == 1000 and len(got["body"]) == 1000
    capped = call(env, "http.request", {"url": f"{server}/big"}, http_max_response_bytes=5000)
    assert capped["size"] == 5000 and capped["truncated"] is True


def test_http_allow_list_and_redirects(env: Env, server: str) -> None:
    port = server.rsplit(":", 1)[1]
    err = fails(env, "http.request", {"url": f"{server}/json"}, http_allow_hosts=["example.com"])
    assert isinstance(err, PermissionDenied) and err.details["host"] == "127.0.0.1"
    ok = call(env, "http.request", {"url": f"{server}/json"}, http_allow_hosts=["127.0.0.1"])
    assert ok["status"] == 200
    # per task: the task's list wins for its runs; RPC callers keep the global one
    per_task = {"job": {"http_allow_hosts": ["localhost"]}}
    err = fails(env, "http.request", {"url": f"{server}/json"}, run_caller(), tasks=per_task)
    assert isinstance(err, PermissionDenied)
    assert call(env, "http.request", {"url": f"{server}/json"}, tasks=per_task)["status"] == 200
    # a redirect is not followed unless asked, and then only to an allowed host
    to_local = f"{server}/redirect?to=http://localhost:{port}/json"
    plain = call(env, "http.request", {"url": to_local})
    assert plain["status"] == 302 and plain["headers"]["location"].endswith("/json")
    followed = call(env, "http.request", {"url": to_local, "follow_redirects": True})
    assert followed["status"] == 200 and followed["json"]["ok"] is True
    err = fails(env, "http.request", {"url": to_local, "follow_redirects": True},
                http_allow_hosts=["127.0.0.1"])  # fmt: skip
    assert isinstance(err, PermissionDenied) and err.details["host"] == "localhost"
    for url in ("file:///etc/passwd", "ftp://127.0.0.1/", "http:///nohost"):
        assert isinstance(fails(env, "http.request", {"url": url}), ValidationFailed)


def test_http_failures_are_typed(env: Env, server: str) -> None:
    err = fails(env, "http.request", {"url": f"{server}/slow", "timeout_s": 0.3})
    assert isinstance(err, Timeout)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    err = fails(env, "http.request", {"url": f"http://127.0.0.1:{closed}/"})
    assert isinstance(err, ToolFailed) and err.details["reason"] == "connection"
    err = fails(env, "http.request", {"url": f"{server}/", "timeout_s": 10_000})
    assert err.details["field"] == "params.timeout_s"


def test_host_patterns() -> None:
    assert host_allowed("a.example.com", ["*.example.com"])
    assert not host_allowed("example.com", ["*.example.com"])
    assert not host_allowed("badexample.com", ["*.example.com"])
    assert host_allowed("Example.COM.", ["example.com"])
    assert not host_allowed("x", [])
    assert host_allowed("anything", None)


# -- shell.exec ------------------------------------------------------------------------


def test_shell_exec_argv_output_and_exit_code(env: Env) -> None:
    got = call(env, "shell.exec", {"argv": ["sh", "-c", "echo out; echo err >&2; exit 3"]})
    assert got["exit_code"] == 3 and got["stdout"] == "out\n" and got["stderr"] == "err\n"
    assert got["timed_out"] is False
    # argv is not a shell: metacharacters are plain arguments
    echo = call(env, "shell.exec", {"argv": ["echo", "$HOME;", "|", "rm"]})
    assert echo["stdout"] == "$HOME; | rm\n"
    fed = call(env, "shell.exec", {"argv": ["cat"], "stdin": "fed in"})
    assert fed["stdout"] == "fed in\n"  # line by line: the last line gets its newline
    shelled = call(env, "shell.exec", {"command": "echo $((6*7))", "shell": True})
    assert shelled["stdout"] == "42\n"
    env_vars = call(env, "shell.exec", {"argv": ["sh", "-c", "echo $FOO:$SEQD_RUN_ID"],
                                        "env": {"FOO": "bar"}}, run_caller())  # fmt: skip
    assert env_vars["stdout"] == f"bar:{run_caller().run_id}\n"


def test_shell_exec_needs_shell_for_a_string(env: Env) -> None:
    err = fails(env, "shell.exec", {"command": "echo hi"})
    assert isinstance(err, ValidationFailed) and err.details["field"] == "params.argv"
    err = fails(env, "shell.exec", {"argv": ["echo"], "shell": True})
    assert err.details["field"] == "params.command"
    err = fails(env, "shell.exec", {"argv": []})
    assert err.details["field"] == "params.argv"
    err = fails(env, "shell.exec", {"argv": ["/no/such/program"]})
    assert isinstance(err, ToolFailed) and err.details["reason"] == "spawn_failed"


def test_shell_exec_timeout_kills_the_process_group(env: Env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    pidfile = tmp_path / "child.pid"
    script = f"sleep 60 & echo $! > {pidfile}; echo started; wait"
    started = time.monotonic()
    got = call(env, "shell.exec", {"command": script, "shell": True, "timeout_s": 0.5,
                                   "kill_grace_s": 0.2})  # fmt: skip
    assert time.monotonic() - started < 10
    assert got["timed_out"] is True and got["stdout"] == "started\n"
    assert got["exit_code"] is not None and got["exit_code"] < 0
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"background child {child} outlived the timeout")


def test_shell_exec_output_cap_and_cwd_confinement(env: Env) -> None:
    big = call(env, "shell.exec", {"argv": ["sh", "-c", "yes | head -c 100000"],
                                   "max_output_bytes": 1000})  # fmt: skip
    assert big["stdout_truncated"] is True and len(big["stdout"]) == 1000
    root = env.state_dir / "tool-files" / "global"
    (root / "sub").mkdir(parents=True)
    where = call(env, "shell.exec", {"argv": ["pwd"], "cwd": "sub"})
    assert where["stdout"].strip() == os.path.realpath(root / "sub")
    err = fails(env, "shell.exec", {"argv": ["pwd"], "cwd": "../.."})
    assert isinstance(err, PermissionDenied) and err.details["field"] == "params.path"


def test_http_from_a_run_carries_its_traceparent(env: Env, server: str) -> None:
    trace, span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    run = ToolCaller(
        kind="run", run_id="r" * 24, task="t", role="admin", trace_id=trace, span_id=span
    )
    sent = call(env, "http.request", {"url": f"{server}/headers"}, caller=run)
    assert sent["json"]["traceparent"] == f"00-{trace}-{span}-01"
    own = call(
        env, "http.request", {"url": f"{server}/headers", "headers": {"TraceParent": "x"}}, run
    )
    assert own["json"]["traceparent"] == "x"  # the caller's own header wins
    assert "traceparent" not in call(env, "http.request", {"url": f"{server}/headers"})["json"]
