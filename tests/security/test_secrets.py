"""Secrets (issue 18, item 6): named secrets from systemd credentials and a private
file, given to a task through its config and to ``http.request`` through the tools'
config; their values are never stored in a run or logged, wherever a task or a tool
echoes them, and a secrets file others may read stops the daemon."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import msgspec
import pytest

from seqd import hookimpl
from seqd.config.secrets import Secrets
from seqd.plugins.host import PluginHost
from seqd.plugins.tracing import ToolCall
from seqd.tools.redact import summarize
from tests.security.conftest import task_folder

API_KEY = "sk-live-0123456789abcdef"
DB_PASSWORD = 'hunter2 "from" \\ the file'
LEAKY = """
import hashlib, os

def run(ctx):
    key = os.environ["API_KEY"]
    print("the key is", key)
    ctx.log("db password:", os.environ["DB"])
    ctx.step("keep", lambda: {"inner": key, "db": os.environ["DB"]})
    return {"key": key, "digest": hashlib.sha256(key.encode()).hexdigest()}
"""
RAISES = """
import os

def run(ctx):
    raise RuntimeError("bad key " + os.environ["API_KEY"])
"""
ENV = '"env": {"API_KEY": {"secret": "api_key"}, "DB": {"secret": "db_password"}}'


class Echo(BaseHTTPRequestHandler):
    """Answers with the headers it got (a service that echoes what it is sent)."""

    seen: list[dict[str, str]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", self.path.split("to=", 1)[1])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        Echo.seen.append(headers)
        body = json.dumps(headers).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def echo() -> Iterator[str]:
    Echo.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def secrets_setup(tmp_path: Path, mode: int = 0o600) -> tuple[Path, Path]:
    creds = tmp_path / "credentials"
    creds.mkdir()
    (creds / "api_key").write_text(API_KEY + "\n")
    (creds / "api_key").chmod(0o400)
    file = tmp_path / "secrets.toml"
    file.write_text(f"db_password = {json.dumps(DB_PASSWORD)}\n")
    file.chmod(mode)
    return creds, file


def test_secret_values_reach_tasks_and_tools_but_no_record(
    make_daemon: Any, tmp_path: Path, echo: str
) -> None:
    creds, file = secrets_setup(tmp_path)
    tasks = tmp_path / "tasks"
    task_folder(tasks, "leaky", "{" + f'"type": "python", {ENV}' + "}", LEAKY)
    task_folder(tasks, "raises", "{" + f'"type": "python", {ENV}' + "}", RAISES)
    task_folder(
        tasks,
        "echoes",
        "{" + f'"type": "shell", "command": ["sh", "-c", "echo \\"$API_KEY\\""], {ENV}' + "}",
    )
    config = tmp_path / "seqd.toml"
    config.write_text(
        f'[secrets]\nfile = "{file}"\n'
        '[tools]\nhttp_allow_networks = ["127.0.0.0/8"]\n'
        '[tools.http_headers."127.0.0.1"]\nX-Api-Key = { secret = "api_key" }\n'
    )
    d = make_daemon(
        tasks=[tasks],
        env={"CREDENTIALS_DIRECTORY": str(creds)},
        args=["--config", str(config), "--log-level", "debug"],
    )
    with d.client() as c:
        leaky = c.submit("leaky", {}, wait=True)
        raises = c.submit("raises", {}, wait=True)
        echoes = c.submit("echoes", {}, wait=True)
        called = c.call_tool("http.request", {"url": f"http://{echo}/headers"})
        moved = c.call_tool(
            "http.request",
            {"url": f"http://{echo}/redirect?to=http://localhost:{echo.split(':')[1]}/x",
             "follow_redirects": True},
        )  # fmt: skip
        records = [
            msgspec.json.encode(c.call(method, {"id": r.id})).decode()
            for r in (leaky, raises, echoes)
            for method in ("runs.get", "runs.logs", "runs.steps")
        ]
    assert leaky.status == "succeeded" and echoes.status == "succeeded"
    assert leaky.output["digest"] == hashlib.sha256(API_KEY.encode()).hexdigest()  # it had it
    assert leaky.output["key"] == "***"
    assert raises.status == "failed" and "bad key ***" in raises.error.message
    assert Echo.seen[0]["x-api-key"] == API_KEY  # the configured host got it
    assert called.result["json"]["x-api-key"] == "***"  # its echo did not come back
    assert "x-api-key" not in Echo.seen[1]  # a redirect to another host loses it
    assert moved.result["status"] == 200
    for text in [*records, d.log_text()]:
        for value in (API_KEY, DB_PASSWORD, json.dumps(DB_PASSWORD)[1:-1]):
            assert value not in text
    assert "the key is ***" in records[1] and "db password: ***" in records[1]
    # Nowhere in the store either: every file under the state dir, byte for byte.
    d.stop()
    for path in d.state_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert API_KEY.encode() not in data and b"hunter2" not in data, path


def test_a_secrets_file_others_may_read_stops_the_daemon(make_daemon: Any, tmp_path: Path) -> None:
    _, file = secrets_setup(tmp_path, mode=0o644)
    config = tmp_path / "seqd.toml"
    config.write_text(f'[secrets]\nfile = "{file}"\n')
    d = make_daemon(start=False, args=["--config", str(config)])
    with pytest.raises(RuntimeError, match="exited with 2"):
        d.start()
    assert "mode 0644" in d.log_text() and "chmod 600" in d.log_text()


def test_a_task_naming_an_unknown_secret_is_invalid(make_daemon: Any, tmp_path: Path) -> None:
    tasks = task_folder(
        tmp_path / "tasks", "wants", '{"type": "python", "env": {"K": {"secret": "nope"}}}', LEAKY
    )
    d = make_daemon(tasks=[tasks])
    with d.client() as c:
        checked = c.validate("wants")
    assert not checked.ok
    assert any("no secret named 'nope'" in p.message for p in checked.problems)


class Recorder:
    """A tracer plugin that keeps every event it gets."""

    name = "recorder"

    def __init__(self) -> None:
        self.seen: list[Any] = []

    def on_event(self, event: Any) -> None:
        self.seen.append(event)

    @hookimpl
    def seqd_register_tracers(self, register: Any) -> None:
        register(self)


def test_traces_and_summaries_never_hold_a_value() -> None:
    """Every event is masked on its way to tracers, and a params summary is masked
    before it is cut (no prefix of a value survives the cut)."""
    recorder = Recorder()
    host = PluginHost()
    host.register("recorder", recorder)
    host.load(builtins=(), entry_points=False)
    host.secrets.replace({"api_key": API_KEY})
    long = {"padding": "x" * 170, "v": API_KEY}  # unmasked, the cut would split the key
    event = ToolCall(
        ts="t", tool="x.y", caller="rpc", params=summarize(long, host.secrets.redact),
        duration_s=0, outcome="ok", error=f"failed with {API_KEY}",
    )  # fmt: skip
    host.emit(event)
    assert host.flush_tracers(10)  # tracers get events on threads of their own
    host.close_tracers()
    assert recorder.seen and "sk-live" not in str(recorder.seen[0])
    assert recorder.seen[0].error == "failed with ***"
    assert "sk-live" not in summarize(long, Secrets({"k": API_KEY}).redact)
