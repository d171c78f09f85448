"""Environment (issue 18, item 5): whatever the daemon was started with — here a DSN
with a password — never reaches a task. Python and shell tasks get the same allowlist
plus what their config names; a run cannot leave variables behind for the next run of
its worker; and processes of the daemon's user cannot read a helper's memory."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from tests.security.conftest import ROOT, User, as_user, other_python, setpriv, task_folder

DSN = "postgresql://seqd:hunter2-secret@db.example/seqd"
PY_ENV = """
import ctypes, os

def run(ctx, leave=False):
    if leave:
        os.environ["LEFT_BEHIND"] = "by an earlier run"
    with open("/proc/self/environ", "rb") as fh:
        initial = fh.read().decode(errors="replace")
    dumpable = ctypes.CDLL(None).prctl(3, 0, 0, 0, 0)  # PR_GET_DUMPABLE
    return {"environ": dict(os.environ), "initial": initial, "dumpable": dumpable}
"""


def tasks(base: Path) -> Path:
    task_folder(base, "py-env", '{"type": "python", "env": {"FROM_CONFIG": "py"}}', PY_ENV)
    task_folder(
        base, "sh-env", '{"type": "shell", "command": ["env"], "env": {"FROM_CONFIG": "sh"}}'
    )
    return base


def test_tasks_get_the_allowlist_and_their_own_variables(make_daemon: Any, tmp_path: Path) -> None:
    env = {"SEQD_TEST_DSN": DSN, "LC_SEQD_TEST": "kept", "PYTHONDONTWRITEBYTECODE": "1"}
    d = make_daemon(env=env, tasks=[tasks(tmp_path / "tasks")], args=["--workers", "1"])
    with d.client() as c:
        first = c.submit("py-env", {"leave": True}, wait=True)
        second = c.submit("py-env", {}, wait=True)  # the same worker (workers = 1)
        shell = c.submit("sh-env", {}, wait=True)
        shell_env = dict(
            line.text.split("=", 1) for line in c.logs(shell.id).lines if "=" in line.text
        )
    assert first.status == second.status == shell.status == "succeeded"
    for seen in (first.output["environ"], second.output["environ"], shell_env):
        assert "SEQD_TEST_DSN" not in seen and DSN not in str(seen)
        assert seen["PATH"] and seen["LC_SEQD_TEST"] == "kept"
    assert first.output["environ"]["FROM_CONFIG"] == "py" and shell_env["FROM_CONFIG"] == "sh"
    assert DSN not in first.output["initial"]  # not even in the worker's first environment
    assert "LEFT_BEHIND" not in second.output["environ"]
    assert second.output["dumpable"] == 0


PEEK = """
import sys
try:
    with open(f"/proc/{sys.argv[1]}/environ", "rb") as fh:
        print("read" if b"hunter2" in fh.read() else "no secret")
except PermissionError:
    print("denied")
"""
HOLD = """
import sys
if sys.argv[1] == "private":
    from seqd.runtime.lifeline import not_dumpable
    not_dumpable()
print("ready", flush=True)
sys.stdin.read()
"""


def test_a_process_of_the_same_user_cannot_read_a_private_ones_environment(other: User) -> None:
    """What ``not_dumpable`` (called by the daemon and every helper) buys: a task runs
    as the daemon's user, yet cannot read the daemon's environment from /proc."""
    python = other_python()
    results = {}
    for mode in ("private", "plain"):
        holder = subprocess.Popen(
            [*setpriv(other), python, "-c", HOLD, mode],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "SEQD_TEST_DSN": DSN},
        )  # fmt: skip
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
            peek = as_user(other, [python, "-c", PEEK, str(holder.pid)])
            results[mode] = peek.stdout.strip()
        finally:
            holder.kill()
            holder.wait()
    assert results == {"private": "denied", "plain": "read"}
    assert os.geteuid() == 0  # (as root, the test itself may read anything)
