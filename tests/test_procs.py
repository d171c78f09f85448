"""Process groups with real processes: spawn, event-driven wait, terminate, rusage."""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import sys
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import psutil
import pytest

from seqd import procs
from seqd.procs import SpawnError, spawn

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, 60))


def live_members(pgid: int) -> list[psutil.Process]:
    """Processes of the group that are still alive (zombies left to a non-reaping
    init are dead for our purpose)."""
    out = []
    for p in psutil.process_iter():
        try:
            if os.getpgid(p.pid) == pgid and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return out


def group_gone(pgid: int, timeout: float = 20.0) -> bool:
    """SIGKILL is delivered asynchronously: give the members a moment to die."""
    deadline = time.monotonic() + timeout
    while live_members(pgid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def wait_for_file(path: Path, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text()
        await asyncio.sleep(0.02)
    raise AssertionError(f"{path} was never written")


def test_exit_codes_and_cached_status(tmp_path: Path) -> None:
    async def main() -> None:
        ok = spawn(["true"])
        status = await ok.wait()
        assert status.returncode == 0 and status.signal_name is None
        assert ok.status is status and await ok.wait() is status
        bad = spawn(["sh", "-c", "exit 3"])
        assert (await bad.wait()).returncode == 3

    run(main())


def test_killed_by_signal() -> None:
    async def main() -> None:
        p = spawn(["sh", "-c", "kill -9 $$"])
        status = await p.wait()
        assert status.returncode == -9
        assert status.signal_name == "SIGKILL"

    run(main())


def test_output_files_are_appended_and_env_is_exact(tmp_path: Path) -> None:
    out = tmp_path / "out.log"
    err = tmp_path / "err.log"

    async def main() -> None:
        for word in ("one", "two"):
            p = spawn(
                ["sh", "-c", 'echo "$WORD"; echo "e-$WORD" >&2'],
                env={"WORD": word, "PATH": os.environ["PATH"]},
                stdout=str(out),
                stderr=str(err),
            )
            await p.wait()
        p = spawn(["env"], env={"ONLY": "this"}, stdout=str(tmp_path / "env.log"))
        await p.wait()

    run(main())
    assert out.read_text() == "one\ntwo\n"
    assert err.read_text() == "e-one\ne-two\n"
    assert (tmp_path / "env.log").read_text() == "ONLY=this\n"
    assert oct(out.stat().st_mode & 0o777) == oct(0o600)


def test_stdin_is_devnull_and_fd_redirect(tmp_path: Path) -> None:
    target = tmp_path / "fd.log"

    async def main() -> None:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT)
        try:
            p = spawn(["sh", "-c", "cat; echo done"], stdout=fd)
            assert (await p.wait()).returncode == 0
        finally:
            os.close(fd)

    run(main())
    assert target.read_text() == "done\n"


def test_new_session_and_cwd(tmp_path: Path) -> None:
    out = tmp_path / "pwd.log"

    async def main() -> None:
        p = spawn(["sh", "-c", "pwd; sleep 0.2"], cwd=str(tmp_path), stdout=str(out))
        assert p.pgid == p.pid
        assert os.getpgid(p.pid) == p.pid
        assert os.getsid(p.pid) == p.pid
        await p.wait()

    run(main())
    assert out.read_text().strip() == str(tmp_path.resolve())


def test_spawn_errors(tmp_path: Path) -> None:
    script = tmp_path / "not-executable.sh"
    script.write_text("#!/bin/sh\necho hi\n")

    async def main() -> None:
        with pytest.raises(SpawnError) as missing:
            spawn(["definitely-not-a-command-xyz"])
        assert missing.value.errno == errno.ENOENT
        assert "definitely-not-a-command-xyz" in missing.value.message
        with pytest.raises(SpawnError) as denied:
            spawn([str(script)])
        assert denied.value.errno == errno.EACCES
        with pytest.raises(SpawnError) as nodir:
            spawn(["true"], cwd=str(tmp_path / "missing"))
        assert "directory" in nodir.value.message
        with pytest.raises(SpawnError):
            spawn([])

    run(main())


def test_leftover_group_members_are_killed_after_leader_exits(tmp_path: Path) -> None:
    pidfile = tmp_path / "bg.pid"

    async def main() -> int:
        p = spawn(["sh", "-c", f"sleep 100 & echo $! > {pidfile}"])
        await p.wait()
        return int(pidfile.read_text())

    bg = run(main())
    deadline = time.monotonic() + 20
    while alive(bg) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not alive(bg)


def test_leftovers_survive_when_asked(tmp_path: Path) -> None:
    pidfile = tmp_path / "bg.pid"

    async def main() -> int:
        p = spawn(["sh", "-c", f"sleep 100 & echo $! > {pidfile}"], kill_group_on_exit=False)
        await p.wait()
        return int(pidfile.read_text())

    bg = run(main())
    try:
        time.sleep(0.2)
        assert alive(bg)
    finally:
        os.kill(bg, signal.SIGKILL)


def test_terminate_sigterm_ends_group_with_grandchild(tmp_path: Path) -> None:
    pidfile = tmp_path / "bg.pid"

    async def main() -> None:
        p = spawn(["sh", "-c", f"sleep 100 & echo $! > {pidfile}; sleep 100"])
        bg = int(await wait_for_file(pidfile))
        assert alive(bg)
        status = await p.terminate(grace_s=10)
        assert status.returncode == -signal.SIGTERM
        assert group_gone(p.pgid)

    run(main())


def test_terminate_escalates_to_sigkill_after_grace(tmp_path: Path) -> None:
    ready = tmp_path / "ready"

    async def main() -> None:
        p = spawn(["sh", "-c", f"trap '' TERM; echo x > {ready}; sleep 100 & wait; sleep 100"])
        await wait_for_file(ready)
        started = time.monotonic()
        status = await p.terminate(grace_s=0.5)
        assert time.monotonic() - started >= 0.45
        assert status.returncode == -signal.SIGKILL
        assert group_gone(p.pgid)

    run(main())


def test_wait_is_cancel_safe() -> None:
    async def main() -> None:
        p = spawn(["sleep", "0.3"])
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(p.wait(), 0.01)
        assert p.status is None
        status, again = await asyncio.gather(p.wait(), p.wait())
        assert status is again and status.returncode == 0
        assert not p.signal_group(signal.SIGTERM)  # reaped: never signal a reused pgid

    run(main())


def test_rusage_is_reported() -> None:
    burn = "import time\nx = bytearray(20_000_000)\nt = time.process_time()\n" + (
        "while time.process_time() - t < 0.3: pass\n"
    )

    async def main() -> None:
        status = await spawn([sys.executable, "-c", burn]).wait()
        assert status.returncode == 0
        assert status.cpu_s >= 0.25
        assert status.peak_rss_bytes >= 20_000_000

    run(main())


def test_thread_fallback_waits_without_reaping() -> None:
    async def main() -> None:
        p = spawn(["sh", "-c", "sleep 0.2; exit 7"])
        p.close()  # drop the pidfd (internals: the fallback path is what is tested)
        procs._wait_in_thread(asyncio.get_running_loop(), p.pid, p._exited)
        status = await p.wait()
        assert status.returncode == 7

    run(main())


def test_many_concurrent_processes() -> None:
    async def main() -> None:
        ps = [spawn(["sh", "-c", f"exit {i % 5}"]) for i in range(64)]
        statuses = await asyncio.gather(*(p.wait() for p in ps))
        assert [s.returncode for s in statuses] == [i % 5 for i in range(64)]

    run(main())


def test_cancelled_terminate_kills_at_once(tmp_path: Path) -> None:
    ready = tmp_path / "ready"

    async def main() -> None:
        p = spawn(["sh", "-c", f"trap '' TERM; echo x > {ready}; sleep 100"])
        await wait_for_file(ready)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(p.terminate(grace_s=60), 0.2)
        status = await asyncio.wait_for(p.wait(), 20)
        assert status.returncode == -signal.SIGKILL
        assert group_gone(p.pgid)

    run(main())
