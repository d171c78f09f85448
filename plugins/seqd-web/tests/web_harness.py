"""What the dashboard's tests share (a module of its own: every plugin's conftest is
a module named ``conftest`` in the whole suite, so tests import from here): a daemon
serving the dashboard, a browser logged in to it, seqctl as root or as a second user,
and skipping that fails under ``CI=true``."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


@contextmanager
def serve(base: Path, config: str) -> Iterator[Web]:
    """A daemon started with ``config`` under ``base``, once its socket is up (and its
    dashboard, when ``config`` has one: ``Web.url`` is then its URL, else empty);
    stopped (SIGTERM) afterwards if it still runs."""
    proc, log, socket = start_daemon(base, config)
    try:
        deadline = time.monotonic() + 30
        while True:
            found = re.search(r"web dashboard: (http://\S+/)", log.read_text())
            if (found or "[web]" not in config) and os.path.exists(socket):
                break
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        yield Web(socket, found.group(1).rstrip("/") if found else "", proc, log)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


TIMEOUT_MS = 20_000


def login(browser: Any, web: Web, token: str, shot: Callable[..., None] | None = None) -> Any:
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(web.url + "/runs")
    assert page.url.endswith("/login")  # not logged in: sent to the login page
    if shot is not None:
        shot(page, "login")
    page.fill("input[name=token]", token)
    page.click("form.login button")
    page.wait_for_url(re.compile(r"/runs$"))
    page.console_errors = errors
    return page
