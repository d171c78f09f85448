"""The log cap (``limits.log_cap_bytes``) is per run: every attempt, every execution
after a restart, adds to the same count, so a run's stored output stays under the
cap however often it runs again."""

from __future__ import annotations

import json
import time
from pathlib import Path

CAP = 20_000
CHUNK = 15_000
"""What each execution writes: under the cap once, over it twice."""


def _tasks(base: Path) -> Path:
    root = base / "cap-tasks"
    write = f"head -c {CHUNK} /dev/zero | tr '\\\\0' x | fold -w 99"
    for name, config in {
        # Writes, then fails: three attempts.
        "chatty-fail": {
            "type": "shell",
            "command": ["sh", "-c", f"{write}; exit 3"],
            "retries": {"max": 2, "backoff_s": 0.1, "factor": 1},
        },
        # Writes, then waits: interrupted by a restart, it runs again.
        "chatty-wait": {
            "type": "shell",
            "command": ["sh", "-c", f"{write}; echo written; sleep 60"],
        },
    }.items():
        (root / name).mkdir(parents=True)
        (root / name / "config.json").write_text(json.dumps(config))
    return root


def _lines(c, run_id: str) -> list:  # type: ignore[no-untyped-def,type-arg]
    found, after = [], 0
    while lines := c.logs(run_id, after=after, limit=1000).lines:
        found += lines
        after = lines[-1].seq
    return found


def _stdout_bytes(c, run_id: str) -> int:  # type: ignore[no-untyped-def]
    lines = _lines(c, run_id)
    return sum(len(line.text.encode()) + 1 for line in lines if line.stream == "stdout")


def _capped(c, run_id: str) -> int:  # type: ignore[no-untyped-def]
    """How many times the run's log says the cap was reached."""
    return sum("log cap" in line.text for line in _lines(c, run_id) if line.stream == "system")


def _daemon(make_daemon, tmp_path: Path):  # type: ignore[no-untyped-def]
    d = make_daemon(start=False, tasks=[_tasks(tmp_path)])
    cfg = d.base / "seqd.toml"
    cfg.write_text(f"shutdown_grace_s = 0.5\n[limits]\nlog_cap_bytes = {CAP}\n")
    d.args += ["--config", str(cfg)]
    return d.start()


def test_the_cap_counts_every_attempt_of_a_run(make_daemon, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d = _daemon(make_daemon, tmp_path)
    with d.client() as c:
        run = c.submit("chatty-fail", {}, wait=True, timeout_s=120)
        assert run.status == "failed" and run.attempt == 3, (run.status, run.attempt)
        assert CHUNK < _stdout_bytes(c, run.id) <= CAP
        assert _capped(c, run.id) == 2  # attempts 2 and 3 hit it


def test_the_cap_counts_what_was_stored_before_a_restart(make_daemon, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d = _daemon(make_daemon, tmp_path)
    with d.client() as c:
        run = c.submit("chatty-wait", {})
        deadline = time.monotonic() + 60
        while _stdout_bytes(c, run.id) < CHUNK:
            assert time.monotonic() < deadline, d.logs()
            time.sleep(0.1)
    d.restart()  # the run is interrupted and runs again in the new daemon
    with d.client() as c:
        deadline = time.monotonic() + 60
        while not _capped(c, run.id):
            assert time.monotonic() < deadline, d.logs()
            time.sleep(0.1)
        assert c.get_run(run.id).status == "running"
        assert CHUNK < _stdout_bytes(c, run.id) <= CAP
        c.cancel(run.id)
