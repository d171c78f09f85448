"""What operators see in the daemon's log (the journal, ``journalctl -u seqd -p
warning``): failed runs, crashed workers and invalid tasks at WARNING with the task,
the run id and the error type; ordinary transitions at DEBUG only; no spurious warning
after a cancel or a tool timeout."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from seqd.client import RpcError
from tests.conftest import Daemon

LINE = re.compile(r"^\S+ \S+ (DEBUG|INFO|WARNING|ERROR|CRITICAL)\s+(\S+): (.*)$")


def levels(log: str) -> list[tuple[str, str]]:
    """(level, "logger: message") of each line the daemon logged."""
    found = []
    for line in log.splitlines():
        m = LINE.match(line)
        if m:
            found.append((m.group(1), f"{m.group(2)}: {m.group(3)}"))
    return found


def at(log: str, level: str, *needles: str) -> list[str]:
    return [msg for lvl, msg in levels(log) if lvl == level and all(n in msg for n in needles)]


@pytest.fixture
def d(make_daemon, tmp_path: Path) -> Daemon:  # type: ignore[no-untyped-def]
    tool = tmp_path / "tools" / "slow" / "sleep"
    tool.mkdir(parents=True)
    (tool / "config.json").write_text(json.dumps({"description": "sleeps", "timeout_s": 0.5}))
    (tool / "code.py").write_text("import time\n\ndef run(ctx):\n    time.sleep(30)\n")
    args = ["--log-level", "debug", "--tools", str(tmp_path / "tools")]
    return make_daemon(args=args)  # type: ignore[no-any-return]


def test_failures_are_warnings_with_task_run_and_type(d: Daemon) -> None:
    with d.client() as c:
        ok = c.submit("noop", {}, wait=True)
        failed = c.submit("fail", {}, wait=True)
        crashed = c.submit("exit", {}, wait=True)
        timed_out = c.submit("timeout", {}, wait=True)
        blocked = c.submit("block", {})
        while c.get_run(blocked.id).status != "running":
            time.sleep(0.05)
        c.cancel(blocked.id)
        assert c.wait(blocked.id, 30).status == "cancelled"
        with pytest.raises(RpcError) as slow:
            c.call_tool("slow.sleep", {})
        assert slow.value.type == "timeout"
        c.reload()  # the invalid task is not reported again
    assert ok.status == "succeeded"
    assert (failed.status, crashed.status, timed_out.status) == ("failed",) * 3
    d.stop()
    log = d.log_text()

    assert at(log, "WARNING", f"run {failed.id} of task fail failed (exception)", "bad value")
    assert at(log, "WARNING", f"run {timed_out.id} of task timeout failed (timeout)")
    assert at(log, "WARNING", f"run {crashed.id} of task exit failed (crashed)")
    assert at(
        log, "WARNING", "python worker", f"died during run {crashed.id} of task exit (crashed)"
    )
    invalid = at(log, "WARNING", "task bad-config is invalid (not_runnable)", "timeout_s")
    assert len(invalid) == 1, invalid
    # an ordinary run: its transitions at DEBUG, and nothing about it above that
    assert at(log, "DEBUG", f"run {ok.id} (noop): running -> succeeded")
    assert not [m for lvl, m in levels(log) if lvl != "DEBUG" and ok.id in m]
    # a cancelled run and a timed-out tool call: the worker's late answer is expected
    assert "unexpected" not in log, log
