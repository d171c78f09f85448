"""The parts around the server: the daemon's [mcp] table, seqctl finding the command,
and the daemon side staying free of the MCP SDK."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import SEQCTL, start_daemon


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
