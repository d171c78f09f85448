"""seqctl with the habits people bring from pueue, systemctl and journalctl: run
references, root listings, JSON errors, did-you-mean, error tails, progress on a
terminal, ``run --each``. Against a real daemon; progress under a real pty."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

SEQCTL = [sys.executable, "-m", "seqd.cli"]


def extra_tasks(tmp_path: Path) -> Path:
    extra = tmp_path / "extra"
    noisy = extra / "noisy"
    noisy.mkdir(parents=True)
    script = "for i in $(seq 1 15); do echo problem $i >&2; done; echo fine; exit 3"
    (noisy / "config.json").write_text(
        json.dumps({"type": "shell", "command": ["sh", "-c", script]})
    )
    return extra


def test_run_references(daemon) -> None:
    first = json.loads(daemon.seqctl("--json", "run", "hello", "-i", "name=A").stdout)
    second = json.loads(daemon.seqctl("--json", "run", "noop").stdout)
    shown = daemon.seqctl("runs", "show", "last")
    assert shown.returncode == 0 and second["id"] in shown.stdout, shown
    by_task = json.loads(daemon.seqctl("--json", "runs", "show", "last:hello").stdout)
    assert by_task["id"] == first["id"]
    assert daemon.seqctl("runs", "wait", "last:hello").returncode == 0
    assert daemon.seqctl("runs", "logs", "last:hello").returncode == 0
    # The first 4 digits are shared by runs made together: ambiguous, with candidates.
    ambiguous = daemon.seqctl("runs", "show", first["id"][:4])
    assert ambiguous.returncode == 4, ambiguous
    assert "give more of the id" in ambiguous.stderr and "candidates:" in ambiguous.stderr
    assert first["id"] in ambiguous.stderr and second["id"] in ambiguous.stderr
    # Not a run reference at all: a usage error that says what one is.
    bad = daemon.seqctl("runs", "show", "nope")
    assert bad.returncode == 2 and "is not a run" in bad.stderr and "last:TASK" in bad.stderr


def test_runs_ls_roots_children_and_all(daemon) -> None:
    flow = json.loads(
        daemon.seqctl("--json", "run", "fanout", "--input", '{"texts": ["a", "b c"]}').stdout
    )
    daemon.seqctl("run", "noop")
    roots = daemon.seqctl("runs", "ls")
    assert roots.returncode == 0, roots
    header, *rows = roots.stdout.splitlines()
    assert header.split() == [
        "ID", "TASK", "STATUS", "ATTEMPT", "CREATED", "DURATION", "CHILDREN", "ERROR"
    ]  # fmt: skip
    assert len(rows) == 2 and "PARENT" not in header
    flow_row = next(r for r in rows if r.startswith(flow["id"]))
    assert flow_row.split()[6] == "3"  # two map items and the summary
    nested = daemon.seqctl("runs", "ls", "--children")
    header, *rows = nested.stdout.splitlines()
    assert "PARENT" in header and len(rows) == 5
    assert sum(flow["id"] in r.split()[1:] for r in rows) == 3  # the children's PARENT
    listed = json.loads(daemon.seqctl("--json", "runs", "ls", "--all", "--limit", "1").stdout)
    assert len(listed["runs"]) == 5 and listed["next_cursor"] is None
    assert listed["children"] == {flow["id"]: 3}
    parent = json.loads(daemon.seqctl("--json", "runs", "ls", "--parent", "last:fanout").stdout)
    assert {r["parent_id"] for r in parent["runs"]} == {flow["id"]}


def test_errors_are_json_with_json(daemon, tmp_path: Path) -> None:
    missing = daemon.seqctl("--json", "runs", "show", "0" * 24)
    assert missing.returncode == 4
    error = json.loads(missing.stdout)["error"]
    assert error["type"] == "not_found" and "0" * 24 in error["message"]
    assert error["details"] == {"id": "0" * 24}
    assert "(not_found)" in missing.stderr  # still said to people, on stderr

    typo = daemon.seqctl("--json", "tasks", "show", "helo")
    assert json.loads(typo.stdout)["error"]["details"]["did_you_mean"] == ["hello"]

    usage = daemon.seqctl("runs", "lss", "--json")
    assert usage.returncode == 2
    error = json.loads(usage.stdout)["error"]
    assert error["type"] == "usage" and "did you mean 'ls'?" in error["message"]
    bad_item = daemon.seqctl("--json", "run", "hello", "-i", "novalue")
    assert bad_item.returncode == 2 and json.loads(bad_item.stdout)["error"]["type"] == "usage"

    gone = subprocess.run(
        [*SEQCTL, "--socket", str(tmp_path / "none.sock"), "--json", "runs", "ls"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert gone.returncode == 3
    assert json.loads(gone.stdout)["error"]["type"] == "unreachable"
    # Without --json, stdout stays empty on errors.
    assert daemon.seqctl("runs", "show", "0" * 24).stdout == ""


def test_did_you_mean_commands_and_the_number_hint(daemon) -> None:
    for argv, wanted in (
        (["stauts"], "did you mean 'status'?"),
        (["runs", "lss"], "did you mean 'ls'?"),
        (["tasks", "valdate", "x"], "did you mean 'validate'?"),
        (["runs", "ls", "--status", "faild"], "did you mean 'failed'?"),
    ):
        proc = daemon.seqctl(*argv)
        assert proc.returncode == 2 and wanted in proc.stderr, (argv, proc.stderr)
    hinted = daemon.seqctl("run", "slow", "-i", "seconds=1")
    assert hinted.returncode == 4 and "use -i seconds:=1" in hinted.stderr, hinted
    unknown = daemon.seqctl("run", "helo")
    assert unknown.returncode == 4 and "did you mean 'hello'?" in unknown.stderr


def test_failures_show_their_cause(make_daemon, tmp_path: Path) -> None:
    d = make_daemon(tasks=[extra_tasks(tmp_path)])
    failed = d.seqctl("run", "noisy")
    assert failed.returncode == 1, failed
    assert "exit_code: command exited with status 3" in failed.stderr
    tail = [line.strip() for line in failed.stderr.splitlines() if "problem" in line]
    assert tail == [f"problem {i}" for i in range(6, 16)], failed.stderr  # the last 10
    shown = d.seqctl("runs", "show", "last")
    assert "stderr_tail:" in shown.stdout and "problem 15" in shown.stdout
    stored = json.loads(d.seqctl("--json", "runs", "show", "last").stdout)
    assert stored["error"]["details"]["stderr_tail"][-1] == "problem 15"

    python = d.seqctl("run", "fail")
    assert python.returncode == 1
    first = python.stderr.splitlines()[0]
    assert first.endswith("failed: exception: ValueError: bad value"), python.stderr


def test_run_each(daemon, tmp_path: Path) -> None:
    lines = tmp_path / "in.jsonl"
    lines.write_text("".join(f'{{"value": {i}}}\n' for i in range(1, 1201)) + "\n")
    waited = daemon.seqctl("run", "pyecho", "--each", str(lines), "--wait", timeout=120)
    assert waited.returncode == 0, waited
    assert waited.stdout == "1,200 runs: 1,200 succeeded\n"
    assert "\r" not in waited.stderr  # no progress bar in a pipe

    ids = daemon.seqctl("run", "pyecho", "--each", "-", input='{"value": "a"}\n{"value": "b"}\n')
    assert ids.returncode == 0 and len(ids.stdout.split()) == 2
    with daemon.client() as c:
        assert [c.wait(i, timeout_s=60).output["input"] for i in ids.stdout.split()] == [
            {"value": "a"},
            {"value": "b"},
        ]

    # Keyed: running the same command again submits nothing new.
    keyed = ["run", "noop", "--each", "-", "--idempotency-key", "job7", "--json"]
    once = json.loads(daemon.seqctl(*keyed, input="{}\n{}\n{}\n").stdout)
    again = json.loads(daemon.seqctl(*keyed, input="{}\n{}\n{}\n").stdout)
    assert once["ids"] == again["ids"] and len(set(once["ids"])) == 3

    failing = daemon.seqctl(
        "--json", "run", "fail", "--each", "-", "--wait", input='{}\n{"message": "no"}\n'
    )
    assert failing.returncode == 1, failing
    summary = json.loads(failing.stdout)
    assert summary["statuses"] == {"failed": 2}
    assert [f["line"] for f in summary["failed"]] == [1, 2]
    assert summary["failed"][1]["error"]["message"] == "ValueError: no"

    refused = daemon.seqctl(
        "run", "slow", "--each", "-", input='{"seconds": 0}\n\n{"seconds": "x"}\n'
    )
    assert refused.returncode == 4 and "line 3: inputs[1].seconds" in refused.stderr, refused
    not_json = daemon.seqctl("run", "slow", "--each", "-", input="{}\nnope\n")
    assert not_json.returncode == 2 and "line 2 is not valid JSON" in not_json.stderr
    empty = daemon.seqctl("run", "slow", "--each", "-", input="\n")
    assert empty.returncode == 2 and "holds no input" in empty.stderr
    lonely = daemon.seqctl("run", "slow", "--wait")
    assert lonely.returncode == 2 and "--wait goes with --each" in lonely.stderr


def on_pty(socket: str, *args: str, timeout: float = 60) -> tuple[int, str]:
    """seqctl with stdout and stderr on a pseudo-terminal: its exit status, its screen."""
    parent, child = pty.openpty()
    env = {**os.environ, "SEQD_SOCKET": socket, "TERM": "xterm"}
    proc = subprocess.Popen(
        [*SEQCTL, *args], stdin=subprocess.DEVNULL, stdout=child, stderr=child, env=env
    )
    os.close(child)
    seen = bytearray()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([parent], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(parent, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    os.close(parent)
    return proc.wait(timeout=10), seen.decode(errors="replace")


def test_progress_only_on_a_terminal(daemon, tmp_path: Path) -> None:
    code, screen = on_pty(daemon.socket, "run", "slow", "-i", "seconds:=1.5")
    assert code == 0, screen
    assert "slow" in screen and "running" in screen and "\r\x1b[K" in screen
    after = screen.rsplit("\x1b[K", 1)[1]  # what follows the spinner's last clear
    assert after.startswith('{\r\n  "slept_s": 1.5') and "running" not in after, screen
    piped = daemon.seqctl("run", "slow", "-i", "seconds:=1")
    assert piped.returncode == 0 and piped.stderr == ""
    code, screen = on_pty(daemon.socket, "--json", "run", "slow", "-i", "seconds:=1")
    assert code == 0 and "\x1b[K" not in screen

    lines = tmp_path / "in.jsonl"
    lines.write_text('{"seconds": 0.5}\n' * 6)
    code, screen = on_pty(daemon.socket, "run", "slow", "--each", str(lines), "--wait")
    assert code == 0, screen
    assert "[" in screen and "/6 done" in screen and "6 runs: 6 succeeded" in screen
