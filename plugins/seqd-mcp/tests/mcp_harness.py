"""A real daemon with the test tasks and an ``[mcp]`` table in its config file, and MCP
sessions with the SDK's own client over stdio, each launching ``seqctl mcp`` as a real
subprocess. A module of its own, not conftest: the tests import it, and ``conftest``
is another module when the whole suite runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from mcp import ClientSession, StdioServerParameters, stdio_client

from seqd.client import Client, DaemonUnreachable

TASKS = Path(__file__).resolve().parent / "tasks"
SEQCTL = str(Path(sys.executable).parent / "seqctl")
CONFIG = """\
[mcp]
tasks = ["etl-*"]
tools = ["kv.*"]
read_tasks = []
wait_s = 30
max_wait_s = 120

[tools.rates."kv.list"]
rate_per_s = 0.001
burst = 1
"""


@dataclass
class Daemon:
    socket: str
    config: Path
    proc: subprocess.Popen[bytes]
    log: Path

    def client(self) -> Client:
        return Client(self.socket, timeout=30)

    @asynccontextmanager
    async def mcp(self, *args: str) -> AsyncIterator[ClientSession]:
        """An initialized MCP session with ``seqctl mcp ARGS`` on this daemon."""
        params = StdioServerParameters(
            command=SEQCTL,
            args=["mcp", "--socket", self.socket, "--config", str(self.config), *args],
            env={"SEQD_CONFIG": ""},
        )
        errlog = self.log.with_suffix(".mcp.log").open("a")
        try:
            async with (
                stdio_client(params, errlog=errlog) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                yield session
        finally:
            errlog.close()


def start_daemon(base: Path, config: str) -> tuple[subprocess.Popen[bytes], int | None]:
    """Start seqd on ``base`` with ``config`` as its config file; the process, and its
    exit status if it stopped at once (None while it runs)."""
    base.mkdir(parents=True, exist_ok=True)
    (base / "seqd.toml").write_text(config)
    shutil.copytree(TASKS, base / "tasks", dirs_exist_ok=True)
    env = {**os.environ, "SEQD_CONFIG": ""}
    env.pop("NOTIFY_SOCKET", None)
    command = [sys.executable, "-m", "seqd", "--config", str(base / "seqd.toml")]
    command += ["--socket", str(base / "s.sock"), "--state-dir", str(base / "state")]
    command += ["--tasks", str(base / "tasks"), "--no-watch"]
    with open(base / "daemon.log", "ab") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            return proc, proc.returncode
        try:
            with Client(str(base / "s.sock"), timeout=5) as c:
                c.ping()
            return proc, None
        except DaemonUnreachable:
            assert time.monotonic() < deadline, (base / "daemon.log").read_text()
            time.sleep(0.05)
