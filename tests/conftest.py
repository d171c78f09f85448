"""Shared fixtures: a real daemon process on a real socket under ``tmp_path``."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "contrib" / "examples" / "tasks"
TEST_TASKS = Path(__file__).resolve().parent / "tasks"
SEQCTL = [sys.executable, "-m", "seqd.cli"]


def pytest_configure(config: pytest.Config) -> None:
    """Started in the background by a shell (``make test &``, some CI runners), the
    suite inherits SIGINT ignored, and so would every ``seqctl`` it starts: the tests
    that stop ``seqctl watch`` with Ctrl-C would wait forever. Python's own handler here
    becomes the default action in the children, as on a terminal."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def copy_tasks(dest: Path, *sources: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for src in sources:
        if not src.is_dir():
            continue
        for task in src.iterdir():
            if task.is_dir() and not task.name.startswith((".", "_")):
                shutil.copytree(task, dest / task.name, dirs_exist_ok=True)


@dataclass
class Daemon:
    """A seqd process started for one test; everything lives under ``base``."""

    base: Path
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    socket_path: str | None = None

    @property
    def socket(self) -> str:
        return self.socket_path or str(self.base / "seqd.sock")

    @property
    def state_dir(self) -> Path:
        return self.base / "state"

    @property
    def tasks_dir(self) -> Path:
        return self.base / "tasks"

    @property
    def log_path(self) -> Path:
        return self.base / "daemon.log"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "seqd",
            "--socket",
            self.socket,
            "--state-dir",
            str(self.state_dir),
            "--tasks",
            str(self.tasks_dir),
            *self.args,
        ]

    def start(self, timeout: float = 20.0) -> Daemon:
        env = {**os.environ, "SEQD_CONFIG": "", **self.env}
        env.pop("NOTIFY_SOCKET", None)
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.base
        )
        log.close()
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 20.0) -> None:
        from seqd.client import Client, DaemonUnreachable

        deadline = time.monotonic() + timeout
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(
                    f"seqd exited with {self.proc.returncode}:\n{self.log_path.read_text()}"
                )
            try:
                with Client(self.socket, timeout=5) as c:
                    c.ping()
                return
            except DaemonUnreachable:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"seqd not ready:\n{self.log_path.read_text()}") from None
                time.sleep(0.05)

    def client(self, timeout: float | None = 30):  # type: ignore[no-untyped-def]
        from seqd.client import Client

        return Client(self.socket, timeout=timeout)

    def seqctl(
        self, *args: str, input: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "SEQD_SOCKET": self.socket}
        return subprocess.run(
            [*SEQCTL, *args],
            capture_output=True,
            text=True,
            env=env,
            input=input,
            timeout=timeout,
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def restart(self) -> Daemon:
        self.stop()
        return self.start()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def make_daemon(tmp_path: Path) -> Iterator[object]:
    """Factory: ``make_daemon(args=[...], tasks=[dirs])`` starts a daemon with the
    example tasks and ``tests/tasks`` (plus any given folders) in its task dir."""
    started: list[Daemon] = []

    def factory(
        args: list[str] | None = None,
        env: dict[str, str] | None = None,
        tasks: list[Path] | None = None,
        start: bool = True,
        name: str = "d",
    ) -> Daemon:
        base = tmp_path / name
        base.mkdir(parents=True, exist_ok=True)
        d = Daemon(base=base, args=list(args or []), env=dict(env or {}))
        copy_tasks(d.tasks_dir, EXAMPLES, TEST_TASKS, *(tasks or []))
        started.append(d)
        return d.start() if start else d

    yield factory
    for d in started:
        if d.proc is not None and d.proc.poll() is None:
            try:
                d.stop(timeout=15)
            except subprocess.TimeoutExpired:
                pass


@pytest.fixture
def daemon(make_daemon) -> Daemon:  # type: ignore[no-untyped-def]
    """A running daemon with the example tasks and ``tests/tasks``."""
    return make_daemon()  # type: ignore[no-any-return]
