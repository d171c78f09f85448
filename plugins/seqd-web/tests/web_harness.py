"""What the dashboard's tests share (a module of its own: every plugin's conftest is
a module named ``conftest`` in the whole suite, so tests import from here): a daemon
serving the dashboard, seqctl as root or as a second user, and skipping that fails
under ``CI=true``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "contrib" / "examples" / "tasks"
CHROMIUM = "/usr/bin/chromium"
OTHER = "seqd-test-other"
CONFIG = """\
[access]
socket_mode = 0o666

[web]
listen = "127.0.0.1:0"

[alerts]
interval_s = 0.2

[[alerts.rules]]
name = "slow-running"
kind = "run_duration"
task = "slow"
above = "1s"
"""


def need(reason: str) -> None:
    """Skip for ``reason``; under ``CI=true`` fail instead (CI must test something)."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: this must not be skipped)")
    pytest.skip(reason)


@dataclass
class Web:
    """A daemon with the dashboard: its socket, its dashboard's URL, its process."""

    socket: str
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def seqctl(self, *args: str, user: str | None = None, status: int = 0) -> str:
        """``seqctl --socket S ARGS`` (as ``user`` through setpriv), which must exit
        with ``status``; its stdout."""
        prefix: list[str] = []
        env = {**os.environ}
        if user is not None:
            prefix = ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups"]
            env = {"PATH": "/usr/bin:/bin", "HOME": "/", "PYTHONPATH": str(ROOT),
                   "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8"}  # fmt: skip
        python = sys.executable if user is None else "/usr/bin/python3"
        done = subprocess.run(
            [*prefix, python, "-m", "seqd.cli", "--socket", self.socket, *args],
            capture_output=True, text=True, env=env, timeout=60, cwd="/",
        )  # fmt: skip
        assert done.returncode == status, done.stderr
        return done.stdout

    def token(self, user: str | None = None) -> str:
        return self.seqctl("web", "token", "--label", "test", user=user).strip()


def start_daemon(base: Path, config: str) -> tuple[subprocess.Popen[bytes], Path, str]:
    """Start ``seqd`` with ``config`` and the example tasks under ``base``."""
    shutil.copytree(EXAMPLES, base / "tasks", dirs_exist_ok=True)
    (base / "seqd.toml").write_text(config)
    socket = str(base / "s.sock")
    log = base / "daemon.log"
    env = {**os.environ, "SEQD_CONFIG": ""}
    env.pop("NOTIFY_SOCKET", None)
    command = [sys.executable, "-m", "seqd", "--config", str(base / "seqd.toml"),
               "--socket", socket, "--state-dir", str(base / "state"),
               "--tasks", str(base / "tasks"), "--no-watch"]  # fmt: skip
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    return proc, log, socket
