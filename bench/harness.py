"""Daemons and helper processes for the benchmarks: each on its own temporary
directory, always stopped (and the directory removed) at the end."""

from __future__ import annotations

import contextlib
import logging
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import psutil

from seqd.runtime.taskenv import DAEMON_ONLY

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
BENCH_TASKS = Path(__file__).resolve().parent / "tasks"
PYTHON = sys.executable
PING = b'{"jsonrpc":"2.0","id":0,"method":"daemon.ping"}\n'
UNWANTED_ENV = (*sorted(DAEMON_ONLY), "PYTHONDONTWRITEBYTECODE")


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for every process the bench starts: the repository importable
    (``bench.*`` helpers), no user config file, no systemd variables, and bytecode
    caching on as in a normal install (some sandboxes set PYTHONDONTWRITEBYTECODE,
    which makes every start recompile whatever changed since the caches were written)."""
    env = {**os.environ, "SEQD_CONFIG": ""}
    for var in UNWANTED_ENV:
        env.pop(var, None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.update(extra or {})
    return env


def timed_run(
    cmd: Sequence[str], env: dict[str, str] | None = None, timeout: float = 120.0
) -> float:
    """Wall seconds from spawning ``cmd`` until it exited (output discarded).

    Not ``subprocess.run(timeout=...)``: with a timeout, ``Popen.wait`` polls with
    doubling sleeps, which rounds every duration up to 15.5, 31.5, 63.5 ms... Here the
    wait blocks in ``waitpid`` and a timer kills the command past ``timeout``."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        list(cmd),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    killer = threading.Timer(timeout, proc.kill)
    killer.start()
    try:
        code = proc.wait()
    finally:
        killer.cancel()
    elapsed = time.perf_counter() - t0
    if code != 0:
        raise RuntimeError(f"{list(cmd)!r} exited with {code}")
    return elapsed


def ping_once(path: str, timeout: float = 2.0) -> bool:
    """One raw ``daemon.ping``; False if nothing listens (yet)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(path)
            sock.sendall(PING)
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(4096)
                if not chunk:
                    return False
                data += chunk
        except OSError:
            return False
    return b'"pong"' in data


class BenchDaemon:
    """A ``python -m seqd`` process with the bench tasks, on ``base`` (a temp dir)."""

    def __init__(
        self,
        base: Path,
        *,
        workers: int | None = None,
        env: dict[str, str] | None = None,
        args: Sequence[str] = (),
    ) -> None:
        self.base = base
        self.workers = workers
        self.env = dict(env or {})
        self.args = list(args)
        self.proc: subprocess.Popen[bytes] | None = None
        self.tasks_dir.mkdir(parents=True, exist_ok=True)
        for task in BENCH_TASKS.iterdir():
            if task.is_dir() and not task.name.startswith((".", "_")):
                shutil.copytree(task, self.tasks_dir / task.name, dirs_exist_ok=True)

    @property
    def socket(self) -> str:
        return str(self.base / "seqd.sock")

    @property
    def state_dir(self) -> Path:
        return self.base / "state"

    @property
    def tasks_dir(self) -> Path:
        return self.base / "tasks"

    @property
    def log_path(self) -> Path:
        return self.base / "daemon.log"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def command(self) -> list[str]:
        cmd = [PYTHON, "-m", "seqd", "--socket", self.socket, "--state-dir", str(self.state_dir)]
        cmd += ["--tasks", str(self.tasks_dir)]
        if self.workers is not None:
            cmd += ["--workers", str(self.workers)]
        return cmd + self.args

    def spawn(self, extra_env: dict[str, str] | None = None) -> None:
        """Start the process without waiting for it to be ready."""
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        try:
            self.proc = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=child_env({**self.env, **(extra_env or {})}),
                cwd=self.base,
            )
        finally:
            log.close()

    def start(self, timeout: float = 60.0) -> BenchDaemon:
        self.spawn()
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not ping_once(self.socket):
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"seqd exited with {self.proc.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"seqd not ready after {timeout} s:\n{self.log_tail()}")
            time.sleep(0.01)

    def stop(self, timeout: float = 30.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        # A blocking wait (see timed_run) with a timer to kill a daemon that hangs.
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            code = proc.wait()
        finally:
            killer.cancel()
        if code == -signal.SIGKILL:
            logger.warning("seqd %d did not stop in %s s and was killed", proc.pid, timeout)

    def log_tail(self, n: int = 30) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    # -- measurements --------------------------------------------------------------

    def process(self) -> psutil.Process:
        return psutil.Process(self.pid)

    def rss(self) -> int:
        return int(self.process().memory_info().rss)

    def children_rss(self) -> dict[int, int]:
        """RSS of every descendant (workers, forkserver, running commands) by pid."""
        out: dict[int, int] = {}
        for child in self.process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                out[child.pid] = int(child.memory_info().rss)
        return out

    def cpu_seconds(self) -> float:
        """User + system CPU time of the daemon process itself (all its threads)."""
        t = self.process().cpu_times()
        return float(t.user + t.system)


@contextlib.contextmanager
def temp_base(prefix: str) -> Iterator[Path]:
    """A private directory, removed at the end (short path: sockets have a length cap)."""
    path = Path(tempfile.mkdtemp(prefix=f"seqd-bench-{prefix}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def running(
    name: str,
    *,
    workers: int | None = None,
    env: dict[str, str] | None = None,
    args: Sequence[str] = (),
    start: bool = True,
) -> Iterator[BenchDaemon]:
    """A daemon on a fresh temporary directory, stopped and removed on exit."""
    with temp_base(name) as base:
        daemon = BenchDaemon(base, workers=workers, env=env, args=args)
        try:
            if start:
                daemon.start()
            yield daemon
        finally:
            daemon.stop()


class Helper:
    """A bench helper process (``python -m bench.<module> ...``) that prints one line
    when ready, waits for ``go`` on stdin, then prints its result as one JSON line."""

    def __init__(self, module: str, *args: str, env: dict[str, str] | None = None) -> None:
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in kill()
        self.proc = subprocess.Popen(
            [PYTHON, "-m", f"bench.{module}", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=child_env(env),
            cwd=ROOT,
            bufsize=0,
        )
        self._buffer = b""

    def wait_line(self, timeout: float = 60.0) -> bytes:
        """The next stdout line, within ``timeout`` (else the helper is killed)."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            ready = select.select([fd], [], [], max(0.0, remaining))[0] if remaining > 0 else []
            if not ready:
                self.kill()
                raise RuntimeError(f"helper {self.proc.args!r} gave no answer in {timeout} s")
            chunk = os.read(fd, 65536)
            if not chunk:
                self.proc.wait()
                raise RuntimeError(f"helper {self.proc.args!r} died:\n{self.stderr_text()}")
            self._buffer += chunk
        line, _, rest = self._buffer.partition(b"\n")
        self._buffer = rest
        return line

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.flush()

    def finish(self, timeout: float = 120.0) -> bytes:
        """The result line; the process is then reaped."""
        line = self.wait_line(timeout)
        try:
            self.proc.wait(timeout)
        finally:
            self.kill()
        return line

    def stderr_text(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-3000:]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self._stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


@contextlib.contextmanager
def helpers(specs: Sequence[tuple[str, Sequence[str]]]) -> Iterator[list[Helper]]:
    """Start helper processes (module, args); every one is killed on exit."""
    started: list[Helper] = []
    try:
        for module, args in specs:
            started.append(Helper(module, *args))
        yield started
    finally:
        for helper in started:
            helper.kill()
