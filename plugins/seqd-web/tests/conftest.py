"""Fixtures: a real daemon serving the dashboard, tokens made with seqctl (as root and
as a second, unprivileged user), and headless Chromium driven by Playwright.

The browser is Debian's ``chromium`` (``make test`` installs it when missing, as
root); Playwright never downloads one. Without it, or without root to act as a
second user, the tests that need them skip saying why, and fail under ``CI=true``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
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

    def seqctl(self, *args: str, user: str | None = None) -> str:
        """``seqctl --socket S ARGS`` (as ``user`` through setpriv); its stdout."""
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
        assert done.returncode == 0, done.stderr
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


@pytest.fixture
def web() -> Iterator[Web]:
    """A daemon serving the dashboard on a free port, its socket open to every user
    (in a folder they may enter: pytest's own are root's alone)."""
    base = Path(tempfile.mkdtemp(prefix="seqd-web-"))
    base.chmod(0o755)
    proc, log, socket = start_daemon(base, CONFIG)
    try:
        deadline = time.monotonic() + 30
        while True:
            found = re.search(r"web dashboard: (http://\S+/)", log.read_text())
            if found and os.path.exists(socket):
                break
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        yield Web(socket, found.group(1).rstrip("/"), proc, log)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def other_user() -> str:
    """A second, unprivileged user (created once): its role is the default, reader."""
    if os.geteuid() != 0 or not shutil.which("setpriv") or not shutil.which("useradd"):
        need("needs root, setpriv and useradd to act as a second user")
    if subprocess.run(["id", "-u", OTHER], capture_output=True).returncode != 0:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", OTHER],
            capture_output=True,
        )
    return OTHER


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Debian chromium under Playwright."""
    if not os.path.exists(CHROMIUM):
        need(f"{CHROMIUM} is not installed (apt-get install chromium; make test does it as root)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need("the playwright package is not installed (make venv)")
    with sync_playwright() as p:
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        yield b
        b.close()


@pytest.fixture
def shots() -> Callable[[Any, str], None]:
    """``shot(page, name, full=False)``: a screenshot of the window (``full``: the whole
    page), into $SEQD_WEB_SCREENSHOTS (the
    docs' pictures come from here: SEQD_WEB_SCREENSHOTS=docs/web) or a temp folder."""
    folder = Path(os.environ.get("SEQD_WEB_SCREENSHOTS") or tempfile.gettempdir() + "/seqd-web")
    folder.mkdir(parents=True, exist_ok=True)

    def shot(page: Any, name: str, full: bool = False) -> None:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=full)

    return shot
