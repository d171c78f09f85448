"""The tool registry through a real daemon: tools.* over the socket and seqctl, folder
tools run in the worker pool and reloaded on change, task.run, per-uid RPC limits."""

from __future__ import annotations

import json
import os
import textwrap
import time
from pathlib import Path

import pytest

from seqd.client import RpcError
from tests.conftest import Daemon

ADD_CONFIG = {
    "description": "Adds two numbers in a worker.",
    "params": {
        "type": "object",
        "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
        "required": ["a", "b"],
    },
    "result": {"type": "object"},
    "timeout_s": 5,
}
ADD_CODE = """\
import os

def run(ctx, a, b):
    ctx.log(f"adding {a} and {b}")
    if a < 0:
        raise ValueError("no negatives")
    if a == 99:
        import time
        time.sleep(30)
    return {"sum": a + b, "pid": os.getpid()}
"""


def write_tool(root: Path, category: str, name: str, config: dict | None, code: str) -> Path:  # type: ignore[type-arg]
    folder = root / category / name
    folder.mkdir(parents=True, exist_ok=True)
    if config is not None:
        (folder / "config.json").write_text(json.dumps(config))
    (folder / "code.py").write_text(code)
    return folder


@pytest.fixture
def tooled(make_daemon, tmp_path: Path) -> Daemon:  # type: ignore[no-untyped-def]
    tools = tmp_path / "tools"
    write_tool(tools, "math", "add", ADD_CONFIG, ADD_CODE)
    upper = "def run(ctx, text: str, times: int = 1) -> str:\n    return text.upper() * times\n"
    write_tool(tools, "text", "upper", {"description": "From the signature."}, upper)
    write_tool(tools, "bad", "syntax", {}, "def run(ctx:\n")
    write_tool(tools, "bad", "noconfig", None, "def run(ctx):\n    return 1\n")
    config = tmp_path / "seqd.toml"
    config.write_text(
        textwrap.dedent(
            """
            [tools.rates."kv.get"]
            rate_per_s = 0.05
            burst = 2
            """
        )
    )
    return make_daemon(args=["--tools", str(tools), "--config", str(config)])  # type: ignore[no-any-return]


def test_tools_are_listed_with_schemas(tooled: Daemon) -> None:
    with tooled.client() as c:
        tools = {t.name: t for t in c.tools()}
        builtin = {
            *("file.read", "file.write", "file.list", "file.delete", "http.request"),
            *("shell.exec", "kv.get", "kv.set", "kv.delete", "kv.list", "task.run"),
        }
        assert builtin <= set(tools)
        assert tools["kv.get"].plugin == "tools_kv" and tools["kv.get"].source == "plugin"
        assert tools["math.add"].source == "folder" and tools["math.add"].valid
        assert tools["bad.syntax"].valid is False
        assert "syntax error" in tools["bad.syntax"].problems[0].message
        assert tools["bad.noconfig"].problems[0].where == "config.json"
        upper = c.tool("text.upper")
        assert upper.params_schema["required"] == ["text"]  # from the signature
        assert c.tool("shell.exec").admin_only is True
        assert c.tool("kv.get").rate.burst == 2
        with pytest.raises(RpcError) as info:
            c.tool("no.such")
        assert info.value.type == "not_found"
        with pytest.raises(RpcError) as bad:
            c.call_tool("not a name", {})
        assert bad.value.type == "validation" and bad.value.details["field"] == "name"
        status = c.status()
        assert status.tools == len(tools)
        assert status.rate_limits.tools["kv.get"].burst == 2


def test_folder_tools_run_in_a_worker(tooled: Daemon) -> None:
    with tooled.client() as c:
        answer = c.call_tool("math.add", {"a": 2, "b": 3.5})
        assert answer.result["sum"] == 5.5
        assert answer.result["pid"] != tooled.proc.pid  # type: ignore[union-attr]
        assert c.call_tool("text.upper", {"text": "ab", "times": 2}).result == "ABAB"
        with pytest.raises(RpcError) as invalid:
            c.call_tool("math.add", {"a": 1})
        assert invalid.value.details["field"] == "params.b"
        with pytest.raises(RpcError) as failed:
            c.call_tool("math.add", {"a": -1, "b": 0})
        assert failed.value.type == "tool_failed"
        assert failed.value.details["reason"] == "exception"
        assert "no negatives" in failed.value.message
        started = time.monotonic()
        with pytest.raises(RpcError) as slow:
            c.call_tool("math.add", {"a": 99, "b": 0})
        assert slow.value.type == "timeout" and time.monotonic() - started < 20
        with pytest.raises(RpcError) as unusable:
            c.call_tool("bad.syntax", {})
        assert unusable.value.details["reason"] == "not_usable"
        # the worker pool still serves after the killed call
        assert c.call_tool("math.add", {"a": 1, "b": 1}).result["sum"] == 2
    assert "adding 2 and 3.5" in tooled.log_text()


def test_folder_tools_reload_on_change(tooled: Daemon, tmp_path: Path) -> None:
    tools = tmp_path / "tools"
    with tooled.client() as c:
        write_tool(tools, "math", "add", ADD_CONFIG,
                   "def run(ctx, a, b):\n    return {'sum': a * b}\n")  # fmt: skip
        write_tool(tools, "fresh", "one", {"description": "new"}, "def run(ctx):\n    return 1\n")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            names = {t.name for t in c.tools()}
            if "fresh.one" in names and c.call_tool("math.add", {"a": 3, "b": 4}).result == {
                "sum": 12
            }:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the watcher did not reload the changed tools")
        assert c.call_tool("fresh.one").result == 1
        (tools / "fresh" / "one" / "code.py").unlink()
        c.reload()
        assert c.tool("fresh.one").valid is False


def test_seqctl_tools_commands(tooled: Daemon) -> None:
    out = tooled.seqctl("tools", "ls")
    assert out.returncode == 0 and "math.add" in out.stdout and "plugin tools_kv" in out.stdout
    show = tooled.seqctl("tools", "show", "file.read")
    assert show.returncode == 0 and '"path"' in show.stdout and "params schema" in show.stdout
    put = tooled.seqctl("tools", "call", "kv.set", "-p", "key=greeting", "-p", "value:=[1,2]")
    assert put.returncode == 0, put.stderr
    got = tooled.seqctl("--json", "tools", "call", "kv.get", "--params", '{"key": "greeting"}')
    assert got.returncode == 0
    assert json.loads(got.stdout)["result"]["value"] == [1, 2]
    text = tooled.seqctl("tools", "call", "text.upper", "-p", "text=hi")
    assert text.stdout == "HI\n"
    # over the kv.get limit (burst 2, one per 20 s): refused with retry_after, exit 4
    assert tooled.seqctl("tools", "call", "kv.get", "-p", "key=greeting").returncode == 0
    again = tooled.seqctl("tools", "call", "kv.get", "-p", "key=greeting")
    assert again.returncode == 4 and "rate_limited" in again.stderr
    assert "retry_after" in again.stderr
    bad = tooled.seqctl("tools", "call", "file.read", "-p", "path=../../etc/passwd")
    assert bad.returncode == 4 and "permission_denied" in bad.stderr
    missing = tooled.seqctl("tools", "call", "math.add", "-p", "a:=1")
    assert missing.returncode == 4 and "params.b" in missing.stderr
    usage = tooled.seqctl("tools", "call", "math.add", "-p", "a")
    assert usage.returncode == 2 and "-p 'a'" in usage.stderr
    status = tooled.seqctl("status")
    assert "kv.get 0.05/s (burst 2, 1 refused)" in status.stdout
    helped = tooled.seqctl("tools", "call", "--help")
    assert helped.returncode == 0 and "--params" in helped.stdout and "exit status" in helped.stdout


def test_task_run_tool(tooled: Daemon) -> None:
    with tooled.client() as c:
        done = c.call_tool("task.run", {"task": "hello", "input": {"name": "Ada"}}).result
        assert done["status"] == "succeeded" and done["output"] == "Hello, Ada."
        assert done["finished"] is True
        queued = c.call_tool("task.run", {"task": "hello", "wait": False}).result
        assert c.wait(queued["id"], 30).status == "succeeded"
        with pytest.raises(RpcError) as info:
            c.call_tool("task.run", {"task": "no-such-task"})
        assert info.value.type == "not_found"


def test_per_uid_rpc_limit(make_daemon, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "limits.toml"
    config.write_text("[limits]\nrpc_rate_per_s = 2.0\nrpc_burst = 5\n")
    d = make_daemon(args=["--config", str(config)], name="limited")
    with d.client() as c:
        refused = None
        for _ in range(20):
            try:
                c.ping()
            except RpcError as exc:
                refused = exc
                break
        assert refused is not None and refused.type == "rate_limited"
        assert 0 < refused.details["retry_after"] <= 0.5
        time.sleep(refused.details["retry_after"] + 0.1)
        status = c.status()
        limits = status.rate_limits
        assert limits.rpc_rate_per_s == 2.0 and limits.rpc_burst == 5
        assert limits.rpc_clients[str(os.geteuid())].limited >= 1
    time.sleep(1)
    out = d.seqctl("status")
    assert "rpc 2/s per uid (burst 5)" in out.stdout
