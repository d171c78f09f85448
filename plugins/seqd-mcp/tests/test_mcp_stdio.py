"""seqctl mcp as agents meet it: the SDK's own client over stdio, a real daemon."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession, types
from mcp.shared.exceptions import MCPError
from mcp_harness import Daemon

FIXED_READ = {
    "list_tasks", "describe_task", "list_runs", "get_run", "wait_run", "get_logs",
    "list_schedules",
}  # fmt: skip


def text_of(result: types.CallToolResult) -> str:
    """The text a model reads of a tool's result."""
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


async def read_text(s: ClientSession, uri: str) -> tuple[str, str | None]:
    """A resource's text and MIME type."""
    contents = (await s.read_resource(uri)).contents[0]
    assert isinstance(contents, types.TextResourceContents)
    return contents.text, contents.mime_type


async def call(s: ClientSession, name: str, arguments: dict[str, Any] | None = None) -> Any:
    """The structured result of a tool that succeeded."""
    result = await s.call_tool(name, arguments or {})
    assert not result.is_error, result.content
    return result.structured_content


async def refused(s: ClientSession, name: str, arguments: dict[str, Any] | None = None) -> Any:
    """The ``{type, message, details}`` of a tool that failed; its text says the same."""
    result = await s.call_tool(name, arguments or {})
    assert result.is_error, result.structured_content
    error = result.structured_content["error"]
    assert text_of(result) == f"error: {error['message']} ({error['type']})"
    assert "Traceback" not in text_of(result)
    return error


async def until_log(s: ClientSession, run_id: str, text: str) -> None:
    """Wait for a log line (each get_logs after a wait_run that returns at once when
    the run has ended)."""
    for _ in range(200):
        lines = (await call(s, "get_logs", {"id": run_id}))["lines"]
        if any(text in ln["text"] for ln in lines):
            return
        await anyio.sleep(0.1)
    raise AssertionError(f"no log line {text!r} in run {run_id}")


def test_listing_shows_only_exposed_tasks_and_tools(daemon: Daemon) -> None:
    async def body() -> None:
        async with daemon.mcp() as s:
            tools = {t.name: t for t in (await s.list_tools()).tools}
            tasks = {"run.etl-greet", "run.etl-approve", "run.etl-forever"}
            kv = {"tool.kv.get", "tool.kv.set", "tool.kv.delete", "tool.kv.list"}
            actions = {"run_task", "cancel_run", "signal_run", "list_tools", "call_tool"}
            assert set(tools) == FIXED_READ | actions | tasks | kv
            hints = {n: t.annotations and t.annotations.read_only_hint for n, t in tools.items()}
            assert hints["get_run"] is True and hints["run.etl-greet"] is False
            # The task's input schema is the tool's.
            with daemon.client() as c:
                schema = c.task("etl-greet").inputs
            assert tools["run.etl-greet"].input_schema == schema
            assert schema["required"] == ["name"]

            listed = await call(s, "list_tasks")
            assert sorted(t["name"] for t in listed["tasks"]) == [
                "etl-approve", "etl-forever", "etl-greet",
            ]  # fmt: skip
            described = await call(s, "describe_task", {"name": "etl-greet"})
            assert described["task"]["inputs"] == schema and described["runnable"] is True
            error = await refused(s, "describe_task", {"name": "secret"})
            assert error["type"] == "not_exposed" and error["details"] == {"task": "secret"}
            error = await refused(s, "list_runs", {"task": "secret"})
            assert error["type"] == "not_exposed"
            seqd_tools = {t["name"] for t in (await call(s, "list_tools"))["tools"]}
            assert seqd_tools == {n.removeprefix("tool.") for n in kv}

    anyio.run(body)


def test_run_wait_detach_logs_cancel_and_resources(daemon: Daemon) -> None:
    async def body() -> None:
        async with daemon.mcp() as s:
            # A task's own tool runs it and waits.
            run = await call(s, "run.etl-greet", {"name": "Ada", "shout": True})
            assert (run["status"], run["output"]) == ("succeeded", "HELLO, ADA")
            logs = await call(s, "get_logs", {"id": run["id"]})
            assert [ln["text"] for ln in logs["lines"]] == ["greeting Ada"]
            assert logs["finished"] is True

            # run_task waits too, or detaches.
            waited = await call(s, "run_task", {"task": "etl-greet", "input": {"name": "Bo"}})
            assert waited["output"] == "Hello, Bo"
            detached = await call(s, "run_task", {"task": "etl-forever", "wait": False})
            assert detached["status"] in ("queued", "running")
            await until_log(s, detached["id"], "started")
            # A wait that runs out answers with the run still going, and says so.
            result = await s.call_tool("wait_run", {"id": detached["id"], "timeout_s": 0.2})
            assert not result.is_error and result.structured_content["status"] == "running"
            assert "not finished" in text_of(result)
            cancelled = await call(s, "cancel_run", {"id": detached["id"], "reason": "done"})
            assert cancelled["status"] == "cancelled"
            assert (await call(s, "get_run", {"id": detached["id"]}))["status"] == "cancelled"
            listed = await call(s, "list_runs", {"task": "etl-greet"})
            assert {r["id"] for r in listed["runs"]} == {run["id"], waited["id"]}

            # Resources: the run as JSON, its log as text, the newest runs listed.
            uri = f"seqd://runs/{run['id']}"
            text, mime = await read_text(s, uri)
            assert mime == "application/json" and json.loads(text)["output"] == "HELLO, ADA"
            text, mime = await read_text(s, uri + "/logs")
            assert mime == "text/plain"
            assert text.endswith(" log greeting Ada\n") and text.count("\n") == 1
            text, _ = await read_text(s, f"seqd://runs/{run['id'][:12]}")
            assert json.loads(text)["id"] == run["id"]
            listed_uris = {str(r.uri) for r in (await s.list_resources()).resources}
            assert uri in listed_uris and f"seqd://runs/{detached['id']}" in listed_uris
            templates = (await s.list_resource_templates()).resource_templates
            assert {t.uri_template for t in templates} == {
                "seqd://runs/{id}", "seqd://runs/{id}/logs",
            }  # fmt: skip

    anyio.run(body)


def test_signal_resumes_a_waiting_run(daemon: Daemon) -> None:
    async def body() -> None:
        async with daemon.mcp() as s:
            run = await call(s, "run_task", {"task": "etl-approve", "wait": False})
            await until_log(s, run["id"], "waiting for approval")
            signalled = await call(
                s, "signal_run", {"id": run["id"], "name": "approved", "data": {"by": "agent"}}
            )
            assert signalled["id"] == run["id"]
            ended = await call(s, "wait_run", {"id": run["id"], "timeout_s": 60})
            assert (ended["status"], ended["output"]) == (
                "succeeded",
                {"approved": {"by": "agent"}},
            )

    anyio.run(body)


def test_denied_tasks_tools_and_runs_are_refused(daemon: Daemon) -> None:
    with daemon.client() as c:
        secret = c.submit("secret", wait=True, timeout_s=60)
        assert secret.status == "succeeded"

    async def body() -> None:
        async with daemon.mcp() as s:
            error = await refused(s, "run_task", {"task": "secret"})
            assert (error["type"], error["details"]) == ("not_exposed", {"task": "secret"})
            error = await refused(s, "run.secret")
            assert (error["type"], error["details"]) == ("not_exposed", {"task": "secret"})
            with pytest.raises(MCPError, match="no tool named 'nonsense'"):
                await s.call_tool("nonsense", {})
            # A run of a hidden task: not even readable (read_tasks = [] in the config).
            for tool in ("get_run", "get_logs", "cancel_run"):
                error = await refused(s, tool, {"id": secret.id})
                assert error["type"] == "not_exposed", tool
            assert secret.id not in json.dumps(await call(s, "list_runs"))
            with pytest.raises(MCPError) as raised:
                await s.read_resource(f"seqd://runs/{secret.id}")
            assert raised.value.error.data["type"] == "not_exposed"
            assert "s3cr3t" not in str(raised.value.error)

            # Tools: only kv.*; the daemon's answer for those.
            error = await refused(s, "call_tool", {"name": "shell.exec", "params": {}})
            assert error["type"] == "not_exposed"
            await call(s, "tool.kv.set", {"key": "k", "value": [1, 2]})
            got = await call(s, "call_tool", {"name": "kv.get", "params": {"key": "k"}})
            assert got["result"]["value"] == [1, 2]
            # The daemon's rate limit holds for agents too ([tools.rates."kv.list"]).
            await call(s, "tool.kv.list")
            error = await refused(s, "tool.kv.list")
            assert error["type"] == "rate_limited", error

        # Readable but not runnable: seen, not cancelled.
        async with daemon.mcp("--read-task", "*") as s:
            assert (await call(s, "get_run", {"id": secret.id}))["output"] == {"secret": "s3cr3t"}
            error = await refused(s, "cancel_run", {"id": secret.id})
            assert error["type"] == "not_exposed" and error["details"]["task"] == "secret"
            tasks = {t["name"]: t["runnable"] for t in (await call(s, "list_tasks"))["tasks"]}
            assert tasks["secret"] is False and tasks["etl-greet"] is True

    anyio.run(body)


def test_hostile_arguments_get_clear_errors(daemon: Daemon) -> None:
    async def body() -> None:
        async with daemon.mcp() as s:
            # The daemon checks a task's input against its schema: its message and type.
            error = await refused(s, "run.etl-greet", {"name": 5})
            assert error["type"] == "validation" and error["details"]["field"] == "input.name"
            error = await refused(s, "run.etl-greet", {})
            assert error["type"] == "validation" and "name" in error["message"]
            error = await refused(s, "run_task", {"task": "etl-greet", "input": "Ada"})
            assert error["details"]["field"] == "input" and "object" in error["message"]
            # The fixed tools' own arguments are checked here, naming the field.
            for name, arguments, field in (
                ("get_run", {"id": "zz"}, "id"),
                ("get_run", {}, "id"),
                ("list_runs", {"limit": "x"}, "limit"),
                ("list_runs", {"limit": 10_000}, "limit"),
                ("get_logs", {"id": "last", "after": -1}, "after"),
                ("signal_run", {"id": "last", "name": "no spaces"}, "name"),
                ("describe_task", {"name": "Etl"}, "name"),
                ("list_tasks", {"surprise": 1}, "surprise"),
            ):
                error = await refused(s, name, arguments)
                assert error["type"] == "validation", (name, error)
                assert error["details"]["field"] == field, (name, error)
                assert error["message"].startswith(f"{field}: "), (name, error)
            error = await refused(s, "run_task", {"task": "etl-greet", "timeout_s": 1e9})
            assert error["details"] == {"field": "timeout_s"} and "max_wait_s" in error["message"]
            error = await refused(s, "get_run", {"id": "ffffffffffffffffffffffff"})
            assert error["type"] == "not_found"
            # A huge input: the daemon's limit, as an error, and the server goes on.
            error = await refused(s, "run.etl-greet", {"name": "x" * 3_000_000})
            assert (error["type"], error["details"]["field"]) == ("validation", "input"), error
            assert "the limit is" in error["message"]
            with pytest.raises(MCPError):
                await s.read_resource("seqd://tasks/etl-greet")
            with pytest.raises(MCPError) as raised:
                await s.read_resource("seqd://runs/zz")
            assert raised.value.error.data["details"]["field"] == "id"
            assert (await call(s, "run.etl-greet", {"name": "Cy"}))["output"] == "Hello, Cy"

    anyio.run(body)


def test_flags_replace_the_config_lists(daemon: Daemon) -> None:
    async def body() -> None:
        async with daemon.mcp("--allow-task", "etl-greet", "--allow-tool", "kv.get") as s:
            names = {t.name for t in (await s.list_tools()).tools}
            assert {n for n in names if n.startswith(("run.", "tool."))} == {
                "run.etl-greet", "tool.kv.get",
            }  # fmt: skip
            error = await refused(s, "run_task", {"task": "etl-forever"})
            assert error["type"] == "not_exposed"

    anyio.run(body)


def test_read_only_by_default(tmp_path: Path, daemon: Daemon) -> None:
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    daemon.config = empty  # no [mcp]: the defaults

    async def body() -> None:
        async with daemon.mcp() as s:
            names = {t.name for t in (await s.list_tools()).tools}
            assert names == FIXED_READ
            tools = (await s.list_tools()).tools
            assert all(t.annotations and t.annotations.read_only_hint for t in tools)
            listed = {t["name"] for t in (await call(s, "list_tasks"))["tasks"]}
            assert {"secret", "etl-greet"} <= listed  # every task readable by default
            for name, arguments in (
                ("run_task", {"task": "etl-greet"}),
                ("call_tool", {"name": "kv.get", "params": {"key": "k"}}),
            ):
                error = await refused(s, name, arguments)
                assert error["type"] == "not_exposed", name

    anyio.run(body)


def test_an_unreachable_daemon_is_a_tool_error(tmp_path: Path, daemon: Daemon) -> None:
    daemon.socket = str(tmp_path / "nobody.sock")

    async def body() -> None:
        async with daemon.mcp() as s:
            error = await refused(s, "list_tasks")
            assert error["type"] == "unreachable" and "nobody.sock" in error["message"]
            assert (await s.list_resources()).resources == []
            # The fixed tools are still offered, and say why they cannot answer.
            names = {t.name for t in (await s.list_tools()).tools}
            assert {"list_tasks", "run_task", "call_tool"} <= names
            assert not any(n.startswith(("run.", "tool.")) for n in names)
            error = await refused(s, "run_task", {"task": "etl-greet"})
            assert error["type"] == "unreachable"

    anyio.run(body)
