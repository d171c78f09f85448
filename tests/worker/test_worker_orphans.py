"""Workers never outlive the daemon: parent-death signal, parent check, channel EOF."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from seqd.runtime.workerpool.messages import HEADER, Hello, decode_to_daemon, frame_length

pytestmark = pytest.mark.timeout(60)

PARENT = r"""
import asyncio, json, sys
from dataclasses import dataclass
from seqd.runtime.workerpool.messages import Execute
from seqd.runtime.workerpool.pool import PoolSettings, WorkerPool

CODE = "import time\ndef run(ctx):\n    ctx.log('busy')\n    time.sleep(1e9)\n"

class Job:
    def __init__(self):
        self.busy = asyncio.Event()
    log_full = False
    def log(self, stream, text):
        if text == "busy":
            self.busy.set()

async def main():
    pool = WorkerPool(PoolSettings(prestart=2), max_idle=2)
    await pool.start()
    worker = await pool.acquire()
    req = Execute(run_id="r", task="t", attempt=1, task_dir=sys.argv[1], work_dir=sys.argv[1],
                  filename=sys.argv[1] + "/code.py", code=CODE, entry="run", input=b"{}",
                  from_signature=True, max_output_bytes=1 << 20)
    job = Job()
    task = asyncio.ensure_future(worker.execute(req, job))
    await asyncio.wait_for(job.busy.wait(), 30)
    pids = sorted(w.pid for w in pool._all)
    print(json.dumps({"busy": worker.pid, "all": pids}), flush=True)
    await task

asyncio.run(main())
"""


def vanished(pid: int) -> bool:
    """Gone, or a zombie waiting for a reaper that is not ours to be."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_sigkilled_parent_leaves_no_workers(tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    parent = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        ready, _, _ = select.select([parent.stdout], [], [], 30)
        assert ready, "the parent never reported its workers"
        info = json.loads(parent.stdout.readline())
        pids = info["all"]
        assert info["busy"] in pids
        assert len(pids) >= 2
        for pid in pids:
            assert psutil.Process(pid).ppid() == parent.pid
            assert not vanished(pid)
    finally:
        parent.kill()
        parent.wait(10)
    deadline = time.monotonic() + 10
    while not all(vanished(pid) for pid in pids):
        assert time.monotonic() < deadline, [p for p in pids if not vanished(p)]
        time.sleep(0.05)


def _start_worker(parent_pid: int) -> tuple[subprocess.Popen[bytes], socket.socket]:
    mine, theirs = socket.socketpair()
    proc = subprocess.Popen(
        [sys.executable, "-P", "-m", "seqd.runtime.worker", str(theirs.fileno()), str(parent_pid)],
        pass_fds=(theirs.fileno(),),
    )
    theirs.close()
    mine.settimeout(30)
    return proc, mine


def _recv_frame(sock: socket.socket) -> object:
    def exact(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            assert chunk, "EOF"
            data += chunk
        return data

    return decode_to_daemon(exact(frame_length(exact(HEADER.size))))


def test_worker_exits_on_channel_eof() -> None:
    proc, sock = _start_worker(os.getpid())
    try:
        hello = _recv_frame(sock)
        assert isinstance(hello, Hello)
        assert hello.pid == proc.pid
        sock.close()
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_worker_refuses_a_parent_that_is_not_its_spawner() -> None:
    proc, sock = _start_worker(os.getpid() + 1_000_000)
    try:
        assert proc.wait(20) == 1
    finally:
        sock.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_worker_idle_sigterm_exits_cleanly() -> None:
    proc, sock = _start_worker(os.getpid())
    try:
        assert isinstance(_recv_frame(sock), Hello)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        sock.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_worker_usage_error() -> None:
    done = subprocess.run(
        [sys.executable, "-P", "-m", "seqd.runtime.worker"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "usage" in done.stderr
