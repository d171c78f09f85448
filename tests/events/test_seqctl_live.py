"""seqctl on events: logs of a flow's tree, -n/--since, following across a daemon
restart, watch in a pipe, and one frame of top."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

from tests.conftest import SEQCTL
from tests.events.support import TASKS


def etl(d, tmp_path):  # type: ignore[no-untyped-def]
    with d.client() as c:
        flow = c.submit(
            "etl", {"csv": "name,amount\na,1\nb,2", "out": str(tmp_path / "o")}, wait=True
        )
    assert flow.status == "succeeded"
    return flow


def test_logs_of_a_flow_show_its_states_lines_with_their_task(make_daemon, tmp_path) -> None:
    d = make_daemon()
    flow = etl(d, tmp_path)
    logs = d.seqctl("runs", "logs", flow.id)
    assert logs.returncode == 0, logs
    lines = logs.stdout.splitlines()
    assert any("[etl-extract] extracted 2 rows" in line for line in lines), lines
    assert any("[etl-load] wrote 2 rows" in line for line in lines), lines
    last = d.seqctl("runs", "logs", flow.id, "-n", "1").stdout.splitlines()
    assert last == lines[-1:]
    assert d.seqctl("runs", "logs", flow.id, "--since", "1h").stdout.splitlines() == lines
    assert d.seqctl("runs", "logs", flow.id, "--since", "0s").stdout == ""
    as_json = [
        json.loads(x) for x in d.seqctl("--json", "runs", "logs", flow.id).stdout.splitlines()
    ]
    assert {x["task"] for x in as_json} == {"etl-extract", "etl-load"}
    assert all(x["run_id"] != flow.id for x in as_json)
    followed = d.seqctl("run", "etl", "-f", "-i", "csv=name,amount", "-i", f"out={tmp_path / 'p'}")
    assert followed.returncode == 0 and "[etl-extract] extracted 0 rows" in followed.stderr
    bad = d.seqctl("runs", "logs", flow.id, "--since", "ten minutes")
    assert bad.returncode == 2 and "not a duration" in bad.stderr


def test_following_goes_on_across_a_daemon_crash(make_daemon) -> None:
    d = make_daemon(tasks=[TASKS])
    with d.client() as c:
        run = c.submit("lines-shell", {"n": 3, "delay": 2})
    env = {**os.environ, "SEQD_SOCKET": d.socket}
    follower = subprocess.Popen(
        [*SEQCTL, "runs", "logs", run.id, "-f"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=env,
    )  # fmt: skip
    with d.client() as c:
        subscribed(c)  # the run is in its first attempt's pause
    d.kill()
    d.start()  # recovery runs it again from the start
    out, err = follower.communicate(timeout=60)
    assert follower.returncode == 0, err
    lines = out.splitlines()
    assert [line.split(" ", 2)[2] for line in lines if " stdout " in line] == [
        f"line {i} of the run, padded to make it a little longer" for i in (1, 2, 3)
    ]
    assert any("runs again" in line for line in lines)
    assert "lost the daemon" in err


def subscribed(client, count: int = 1) -> None:  # type: ignore[no-untyped-def]
    """Wait until the daemon has ``count`` subscriptions (a seqctl process started, or
    ended)."""
    deadline = time.monotonic() + 30
    while client.status().subscriptions != count:
        assert time.monotonic() < deadline, "seqctl never (un)subscribed"
        time.sleep(0.05)


def read_lines(proc: subprocess.Popen[bytes], count: int, timeout: float = 30) -> list[str]:
    """``count`` lines from a child's stdout pipe (read unbuffered), failing after
    ``timeout``."""
    import select

    assert proc.stdout is not None
    fd, data = proc.stdout.fileno(), b""
    deadline = time.monotonic() + timeout
    while data.count(b"\n") < count:
        left = deadline - time.monotonic()
        assert left > 0 and select.select([fd], [], [], left)[0], data
        data += os.read(fd, 65536)
    return data.decode().splitlines()[:count]


def test_watch_in_a_pipe_prints_a_line_per_change(make_daemon) -> None:
    d = make_daemon(tasks=[TASKS])
    env = {**os.environ, "SEQD_SOCKET": d.socket}
    for args, parse in (
        (["watch", "--task", "quick"], str.split),
        (["--json", "watch"], json.loads),
    ):
        watcher = subprocess.Popen([*SEQCTL, *args], stdout=subprocess.PIPE, env=env)
        try:
            with d.client() as c:
                subscribed(c)
                run = c.submit("quick", wait=True)
                seen = [parse(line) for line in read_lines(watcher, 3)]
        finally:
            watcher.send_signal(signal.SIGINT)
            watcher.wait(10)
        with d.client() as c:
            subscribed(c, 0)
        if isinstance(seen[0], dict):
            assert [(r["id"], r["status"]) for r in seen] == [
                (run.id, s) for s in ("queued", "running", "succeeded")
            ]
        else:
            assert [(w[1], w[2], w[3]) for w in seen] == [
                (run.id, "quick", s) for s in ("queued", "running", "succeeded")
            ]
        assert watcher.returncode == 0


def test_top_prints_one_frame_at_a_fixed_width(make_daemon) -> None:
    d = make_daemon(tasks=[TASKS])
    with d.client() as c:
        failed = c.submit("fail", wait=True)
        busy = c.submit("lines-shell", {"n": 1, "delay": 30})
        c.wait(busy.id, timeout_s=0.2)
    frame = d.seqctl("top", "--once", "--width", "80")
    assert frame.returncode == 0, frame
    lines = frame.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    text = frame.stdout
    assert "workers" in text and "running (1)" in text and "latest failures" in text
    assert busy.id in text and "lines-shell" in text
    assert failed.id in text and "exception" in text
    with d.client() as c:
        c.cancel(busy.id)  # not left for the daemon's stop to wait for


def on_a_terminal(d, args: list[str], task: str, data: dict) -> str:  # type: ignore[no-untyped-def]
    """Run ``seqctl ARGS`` on a pseudo-terminal, start a run of ``task`` once it is
    subscribed, read what it draws until the run's id shows, then Ctrl-C it."""
    import pty
    import select

    leader, follower = pty.openpty()
    env = {**os.environ, "SEQD_SOCKET": d.socket, "COLUMNS": "120", "LINES": "30"}
    proc = subprocess.Popen([*SEQCTL, *args], stdin=follower, stdout=follower,
                            stderr=follower, env=env)  # fmt: skip
    os.close(follower)
    drawn = b""
    try:
        with d.client() as c:
            subscribed(c)
            run = c.submit(task, data)
            deadline = time.monotonic() + 30
            while run.id.encode() not in drawn and time.monotonic() < deadline:
                if select.select([leader], [], [], 0.5)[0]:
                    drawn += os.read(leader, 65536)
            c.cancel(run.id)
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
        os.close(leader)
    assert run.id.encode() in drawn, drawn[-2000:]
    return drawn.decode(errors="replace")


def test_watch_and_top_draw_on_a_terminal(make_daemon) -> None:
    d = make_daemon(tasks=[TASKS])
    assert "quick" in on_a_terminal(d, ["watch"], "quick", {})
    drawn = on_a_terminal(d, ["top"], "lines-shell", {"delay": 30})
    assert "running (1)" in drawn and "workers" in drawn
