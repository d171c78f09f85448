"""The parts around the server: the daemon's [mcp] table, seqctl finding the command,
and the daemon side staying free of the MCP SDK."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import msgspec
from mcp_harness import SEQCTL, start_daemon
from seqd_mcp.settings import McpSettings


def test_the_daemon_checks_the_mcp_table(tmp_path: Path) -> None:
    _, status = start_daemon(tmp_path / "a", "[mcp]\ntasks = 'etl-*'\n")
    assert status == 2
    log = (tmp_path / "a" / "daemon.log").read_text()
    assert "[mcp]: Expected `array`, got `str` - at `$.tasks`" in log
    _, status = start_daemon(tmp_path / "b", "[mcp]\ntaks = ['etl-*']\n")
    assert status == 2 and "taks" in (tmp_path / "b" / "daemon.log").read_text()


def test_seqctl_finds_the_command_and_reports_bad_settings(tmp_path: Path) -> None:
    helped = subprocess.run([SEQCTL, "--help"], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0
    assert "mcp  " in helped.stdout and "Serve seqd to AI agents" in helped.stdout
    own = subprocess.run([SEQCTL, "mcp", "--help"], capture_output=True, text=True, timeout=60)
    assert own.returncode == 0 and "--allow-task GLOB" in own.stdout
    config = tmp_path / "c.toml"
    config.write_text("[mcp]\nwait_s = -1\n")
    for args, message in (
        (["--config", str(config)], "[mcp]: Expected `float` >= 0.0 - at `$.wait_s`"),
        (["--config", str(tmp_path / "none.toml")], "does not exist"),
        (["--allow-task", ""], "--allow-task: Expected `str` of length >= 1"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ):
        proc = subprocess.run(
            [SEQCTL, "mcp", *args],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in proc.stderr and "Traceback" not in proc.stderr, (args, proc.stderr)


def test_the_daemon_side_does_not_import_the_sdk() -> None:
    code = (
        "import sys, seqd_mcp.plugin; print(sorted(m for m in sys.modules"
        " if m == 'mcp' or m.startswith(('mcp.', 'seqd.client'))))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_the_docs_examples_are_valid() -> None:
    """docs/mcp.md's client configuration and [mcp] table are what they say."""
    text = (Path(__file__).resolve().parents[3] / "docs" / "mcp.md").read_text()
    client = json.loads(text.split("```json\n", 1)[1].split("```", 1)[0])
    server = client["mcpServers"]["seqd"]
    assert server["command"] == "seqctl" and server["args"][0] == "mcp"
    table = tomllib.loads(text.split("```toml\n", 1)[1].split("```", 1)[0])
    settings = msgspec.convert(table["mcp"], McpSettings)
    assert settings.tasks == ["etl-*", "report"] and settings.read_tasks == ["*"]
    # Every key of [mcp] is in the doc's table, with its default.
    defaults = msgspec.to_builtins(McpSettings())
    for key, value in defaults.items():
        assert f"| `{key}` | `{json.dumps(value)}` |" in text, key
