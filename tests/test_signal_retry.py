"""runs.signal and runs.retry against a real daemon."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Daemon


def test_retry_starts_a_linked_run_with_the_same_input(daemon: Daemon) -> None:
    with daemon.client() as c:
        failed = c.submit("fail", {"message": "first"}, wait=True, timeout_s=30)
        assert failed.status == "failed"
    proc = daemon.seqctl("--json", "runs", "retry", failed.id, "--wait")
    assert proc.returncode == 1, proc.stderr  # it fails again: same input
    again = json.loads(proc.stdout)
    assert again["retry_of"] == failed.id
    assert again["id"] != failed.id
    assert again["input"] == failed.input
    assert again["task"] == "fail"


def test_retry_refuses_a_run_that_did_not_fail(daemon: Daemon) -> None:
    with daemon.client() as c:
        ok = c.submit("pyecho", {"x": 1}, wait=True, timeout_s=30)
    proc = daemon.seqctl("runs", "retry", ok.id)
    assert proc.returncode == 4
    assert "only failed or cancelled runs" in proc.stderr


def test_signal_is_journaled_and_refused_once_the_run_ended(daemon: Daemon) -> None:
    with daemon.client() as c:
        run = c.submit("sleep-shell", {"seconds": 30})
        deadline = time.monotonic() + 20
        while c.get_run(run.id).status != "running":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc = daemon.seqctl("runs", "signal", run.id, "approved", "--data", '{"by": "ada"}')
        assert proc.returncode == 0, proc.stderr
        (entry,) = [s for s in c.steps(run.id).steps if s.kind == "signal_in"]
        assert (entry.name, entry.data["payload"]) == ("approved", {"by": "ada"})
        c.cancel(run.id)
    ended = daemon.seqctl("runs", "signal", run.id, "approved")
    assert ended.returncode == 4
    assert "takes no signals" in ended.stderr
    bad = daemon.seqctl("runs", "signal", run.id, "no spaces allowed")
    assert bad.returncode == 4
    assert "name" in bad.stderr
    notjson = daemon.seqctl("runs", "signal", run.id, "x", "--data", "{nope")
    assert notjson.returncode == 2
