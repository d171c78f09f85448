"""A PostgreSQL cluster of a test's own: ``initdb`` + ``pg_ctl`` on a private port and
socket directory, for the tests that stop, kill or cut off a server.

The machine's shared server is used by every test run at once, so no test may stop or
reconfigure it. A fault test starts one of these instead, stops it as it likes, and
removes it afterwards. ``initdb`` refuses to run as root, so under root the cluster
belongs to the ``postgres`` system user (Debian's packages create it) and its programs
run as that user through ``setpriv``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

SERVER_USER = "postgres"


def _bin_dir() -> str | None:
    """Where ``initdb`` and ``pg_ctl`` are: on PATH, or the newest Debian version."""
    if shutil.which("initdb") and shutil.which("pg_ctl"):
        return os.path.dirname(shutil.which("pg_ctl") or "")
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=_version)
    return os.path.dirname(found[-1]) if found else None


def _version(path: str) -> tuple[int, ...]:
    part = path.split("/")[4]
    return tuple(int(x) for x in part.split(".") if x.isdigit())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ThrowawayCluster:
    """One private cluster: ``dsn`` reaches its ``postgres`` database over TCP."""

    bin_dir: str
    data: Path
    sockets: Path
    port: int
    owner: pwd.struct_passwd | None
    """The user the server runs as when the tests run as root."""

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        command = [os.path.join(self.bin_dir, argv[0]), *argv[1:]]
        if self.owner is not None:
            command = [
                "setpriv", f"--reuid={self.owner.pw_uid}", f"--regid={self.owner.pw_gid}",
                "--init-groups", *command,
            ]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        return subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=env, cwd="/"
        )

    def initdb(self) -> None:
        done = self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                         "--no-sync", "-E", "UTF8")  # fmt: skip
        assert done.returncode == 0, done.stderr

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c max_connections=100"
        )
        done = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.data / "server.log"),
                         "-o", options, "-w", "-t", "60", "start")  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr + self.log()
        self.wait_accepting()

    def stop(self, mode: str = "fast") -> None:
        """``fast``: sessions are ended, then the server shuts down cleanly;
        ``immediate``: the server stops at once, as after a crash."""
        done = self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")
        assert done.returncode == 0, done.stdout + done.stderr

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status").returncode == 0

    def accepts(self) -> bool:
        try:
            psycopg.connect(self.dsn, connect_timeout=2).close()
        except psycopg.Error:
            return False
        return True

    def wait_accepting(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.accepts():
            assert time.monotonic() < deadline, f"the throwaway cluster is not up:\n{self.log()}"
            time.sleep(0.1)

    def log(self) -> str:
        try:
            return (self.data / "server.log").read_text(errors="replace")[-4000:]
        except OSError:
            return ""


@contextmanager
def throwaway_cluster() -> Iterator[ThrowawayCluster]:
    """A running private cluster, stopped and deleted afterwards. Skips (fails under
    ``CI=true``) where PostgreSQL's server programs are not installed."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        why = "no initdb/pg_ctl (PostgreSQL's server programs) to start a private cluster"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    owner = pwd.getpwnam(SERVER_USER) if os.geteuid() == 0 else None
    # Not under pytest's tmp_path: its parents are 0700 root, which postgres cannot pass.
    root = Path(tempfile.mkdtemp(prefix="seqd-pg-"))
    root.chmod(0o755)
    data, sockets = root / "data", root / "sockets"
    data.mkdir(mode=0o700)
    sockets.mkdir(mode=0o755)
    if owner is not None:
        for path in (data, sockets):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    cluster = ThrowawayCluster(bin_dir, data, sockets, _free_port(), owner)
    try:
        cluster.initdb()
        cluster.start()
        yield cluster
    finally:
        if cluster.running():
            cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
