"""One real seqd process on PostgreSQL for the daemon tests: started with a config file
naming the ``postgres`` backend, its socket, state and log under ``base``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from seqd.client import Client, DaemonUnreachable

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "contrib" / "examples" / "tasks"


@dataclass
class Daemon:
    """One seqd process on PostgreSQL; its files live under ``base``."""

    base: Path
    config: Path
    proc: subprocess.Popen[bytes] | None = None
    tasks: tuple[Path, ...] = (EXAMPLES,)
    socket_name: str = "s.sock"

    @property
    def socket(self) -> str:
        return str(self.base / self.socket_name)

    @property
    def log(self) -> Path:
        return self.base / "daemon.log"

    def start(self, timeout: float = 30.0) -> None:
        env = {**os.environ, "SEQD_CONFIG": ""}
        env.pop("NOTIFY_SOCKET", None)
        command = [sys.executable, "-m", "seqd", "--config", str(self.config)]
        command += ["--storage", "postgres", "--socket", self.socket, "--no-watch"]
        command += ["--state-dir", str(self.base / "state")]
        command += [arg for task_dir in self.tasks for arg in ("--tasks", str(task_dir))]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.base
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"seqd exited with {self.proc.returncode}:\n{self.logs()}")
            try:
                with Client(self.socket, timeout=5) as c:
                    c.ping()
                return
            except DaemonUnreachable:
                assert time.monotonic() < deadline, f"seqd not ready:\n{self.logs()}"
                time.sleep(0.05)

    def stop(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def logs(self) -> str:
        return self.log.read_text(errors="replace")

    def seqctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "seqd.cli", *args],
            capture_output=True,
            text=True,
            env={**os.environ, "SEQD_SOCKET": self.socket},
            timeout=60,
        )
