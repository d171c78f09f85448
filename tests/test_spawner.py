"""The spawner process (seqd.runtime.spawner) through its daemon-side client, with real
processes: start, output, pacing, discarding, signals, work dirs, a crash."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import psutil
import pytest

from seqd.runtime.procs import SpawnerCrashed, SpawnError
from seqd.runtime.spawner.client import Spawner
from seqd.runtime.spawner.messages import (
    WINDOW_BYTES,
    CommandSpec,
    Exited,
    FrameBuffer,
    Hello,
    Signal,
    Start,
    decode_from_spawner,
    pack,
)
from seqd.runtime.spawner.run import run_command

T = TypeVar("T")
ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}


class Sink:
    """Lines in memory; ``hold`` makes ``wait_logged`` block, as a slow store would."""

    def __init__(self, cap_lines: int = 1_000_000) -> None:
        self.lines: list[tuple[str, str]] = []
        self.cap_lines = cap_lines
        self.hold = asyncio.Event()
        self.hold.set()

    def log(self, stream: str, text: str) -> None:
        self.lines.append((stream, text))

    @property
    def log_full(self) -> bool:
        return len(self.lines) >= self.cap_lines

    async def wait_logged(self, backlog_bytes: int = 1 << 20) -> None:
        await self.hold.wait()

    def out(self, stream: str = "stdout") -> list[str]:
        return [t for s, t in self.lines if s == stream]


def spec(tmp_path: Path, script: str, **kw: Any) -> CommandSpec:
    kw.setdefault("env", ENV)
    return CommandSpec(argv=["sh", "-c", script], cwd=str(tmp_path), **kw)


def arun(main: Callable[[Spawner], Awaitable[T]], timeout: float = 60) -> T:
    async def wrapper() -> T:
        spawner = Spawner()
        try:
            return await asyncio.wait_for(main(spawner), timeout)
        finally:
            await spawner.close()

    return asyncio.run(wrapper())


def group_gone(pgid: int, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        members = []
        for p in psutil.process_iter():
            try:
                if os.getpgid(p.pid) == pgid and p.status() != psutil.STATUS_ZOMBIE:
                    members.append(p)
            except (ProcessLookupError, psutil.NoSuchProcess):
                continue
        if not members:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition never became true")
        await asyncio.sleep(0.01)


def test_runs_a_command_with_exactly_its_environment_and_cwd(tmp_path: Path) -> None:
    sink = Sink()
    env = {**ENV, "ONLY": "this"}
    script = 'echo "$ONLY"; pwd; env | wc -l; echo err >&2; exit 3'
    cmd = CommandSpec(argv=["sh", "-c", script], env=env, cwd=str(tmp_path))

    async def main(spawner: Spawner) -> Any:
        return await run_command(spawner, cmd, sink, grace_s=1)

    status = arun(main)
    assert status.returncode == 3 and status.cpu_s > 0 and status.peak_rss_bytes > 0
    assert sink.out()[:2] == ["this", os.path.realpath(tmp_path)]
    assert int(sink.out()[2]) <= 4  # ONLY, PATH and what sh itself sets (PWD, SHLVL)
    assert sink.out("stderr") == ["err"]


def test_program_is_searched_on_the_commands_path(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    tool = bindir / "seqd-only-here"
    tool.write_text("#!/bin/sh\necho found\n")
    tool.chmod(0o755)
    sink = Sink()

    async def main(spawner: Spawner) -> Any:
        found = CommandSpec(
            argv=["seqd-only-here"], env={"PATH": f"/nonexistent:{bindir}"}, cwd=str(tmp_path)
        )
        status = await run_command(spawner, found, sink, grace_s=1)
        missing = CommandSpec(argv=["seqd-only-here"], env=ENV, cwd=str(tmp_path))
        with pytest.raises(SpawnError) as err:
            await run_command(spawner, missing, Sink(), grace_s=1)
        return status, err.value

    status, err = arun(main)
    assert status.returncode == 0 and sink.out() == ["found"]
    assert "seqd-only-here" in err.message and err.errno == 2


def test_relative_paths_are_the_daemons(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    sink = Sink()

    async def main(spawner: Spawner) -> None:
        for _ in range(2):  # the spawner's own directory changed after the first
            cmd = CommandSpec(
                argv=["sh", "-c", 'pwd; cat "$W/in"; echo'],
                env={**ENV, "W": os.path.abspath("work")},
                cwd="sub",
                work_dir="work",
                input_file="in",
                input=b"x",
            )
            await run_command(spawner, cmd, sink, grace_s=1)

    arun(main)
    assert sink.out() == [str(tmp_path / "sub"), "x"] * 2


def test_bad_cwd_and_nul_bytes_are_refused(tmp_path: Path) -> None:
    async def main(spawner: Spawner) -> tuple[SpawnError, ValueError]:
        gone = CommandSpec(argv=["true"], env=ENV, cwd=str(tmp_path / "missing"))
        with pytest.raises(SpawnError) as bad_cwd:
            await run_command(spawner, gone, Sink(), grace_s=1)
        with pytest.raises(ValueError) as nul:
            await run_command(spawner, spec(tmp_path, "echo a\0b"), Sink(), grace_s=1)
        ok = await run_command(spawner, spec(tmp_path, "true"), Sink(), grace_s=1)
        assert ok.returncode == 0  # the spawner is still serving
        return bad_cwd.value, nul.value

    bad_cwd, nul = arun(main)
    assert "cannot change to directory" in bad_cwd.message
    assert "null byte" in str(nul)


def test_work_dir_input_and_reuse(tmp_path: Path) -> None:
    work = tmp_path / "work"
    spare = str(work / ".spare")
    seen: list[tuple[str, int]] = []

    async def main(spawner: Spawner) -> None:
        inputs = [b'{"long": "' + b"x" * 5000 + b'"}', b"{}", b'{"a": 1}']
        for n, data in enumerate(inputs):
            run_dir = work / f"run{n}"
            sink = Sink()
            cmd = spec(
                tmp_path,
                'cat "$W/input.json"; echo; stat -c %i "$W"',
                work_dir=str(run_dir),
                input_file="input.json",
                input=data,
                spare_dir=spare,
                env={**ENV, "W": str(run_dir)},
            )
            status = await run_command(spawner, cmd, sink, grace_s=1)
            assert status.returncode == 0
            # The input exactly, even when shorter than what the reused dir held.
            assert sink.out()[0].encode() == data
            seen.append((str(run_dir), int(sink.out()[1])))
            assert not run_dir.exists()
        # A run that leaves a directory behind: not reused, the caller removes it.
        left = work / "left"
        cmd = spec(tmp_path, f"mkdir {left}/sub", work_dir=str(left), spare_dir=spare)
        await run_command(spawner, cmd, Sink(), grace_s=1)
        assert (left / "sub").is_dir()

    arun(main)
    inodes = {inode for _, inode in seen}
    assert len(inodes) == 1, seen  # one directory, renamed into place each time


def test_a_work_dir_the_command_tampered_with_is_not_reused(tmp_path: Path) -> None:
    work = tmp_path / "work"
    spare = str(work / ".spare")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("keep me")
    victim = tmp_path / "victim"
    victim.write_text("untouched")

    async def one(spawner: Spawner, name: str, script: str) -> list[str]:
        run_dir = work / name
        cmd = spec(
            tmp_path,
            script,
            work_dir=str(run_dir),
            input_file="input.json",
            input=b'{"n": 1}',
            spare_dir=spare,
            env={**ENV, "W": str(run_dir)},
        )
        sink = Sink()
        await run_command(spawner, cmd, sink, grace_s=1)
        return sink.out()

    async def main(spawner: Spawner) -> list[list[str]]:
        return [
            # The work dir swapped for a symlink: its target is not emptied.
            await one(spawner, "a", f'rm -r "$W"; ln -s {outside} "$W"'),
            # The input file swapped for a link to another file: never written through.
            await one(spawner, "b", f'rm "$W/input.json"; ln -s {victim} "$W/input.json"'),
            await one(spawner, "c", f'ln -f {victim} "$W/input.json"'),
            # A work dir opened up to others is not handed to a later run.
            await one(spawner, "d", 'chmod 777 "$W"'),
            await one(spawner, "e", 'stat -c %a "$W"; cat "$W/input.json"; echo'),
        ]

    outs = arun(main)
    assert (outside / "precious").read_text() == "keep me"
    assert victim.read_text() == "untouched"
    assert outs[-1] == ["700", '{"n": 1}']


def test_lines_stream_and_output_is_paced_by_the_sink(tmp_path: Path) -> None:
    sink = Sink()
    total = 8 * WINDOW_BYTES

    async def main(spawner: Spawner) -> int:
        sink.hold.clear()  # storage "stalls": nothing is acknowledged
        cmd = spec(tmp_path, f"head -c {total} /dev/zero | tr '\\0' 'a' | fold -w 99")
        task = asyncio.ensure_future(run_command(spawner, cmd, sink, grace_s=1))
        await until(lambda: len(sink.lines) > 0)
        await asyncio.sleep(0.5)
        held = sum(len(t) + 1 for _, t in sink.lines)
        assert not task.done()  # the command waits on its pipe
        sink.hold.set()
        status = await task
        assert status.returncode == 0
        return held

    held = arun(main)
    # At most the window plus what one frame adds past it was taken while held.
    assert held <= WINDOW_BYTES + 128 * 1024, held
    assert sum(len(t) + 1 for _, t in sink.lines) == total + total // 99 + 1


def test_a_full_sink_makes_the_spawner_drop_the_rest(tmp_path: Path) -> None:
    sink = Sink(cap_lines=10)

    async def main(spawner: Spawner) -> Any:
        cmd = spec(tmp_path, "yes line | head -c 100000000")
        return await run_command(spawner, cmd, sink, grace_s=1)

    status = arun(main)
    assert status.returncode == 0  # SIGPIPE has its default action back for `yes`
    assert len(sink.lines) == 10


def test_cancel_ends_the_group_sigterm_then_sigkill(tmp_path: Path) -> None:
    sink = Sink()

    async def main(spawner: Spawner) -> tuple[float, int]:
        pids: list[int] = []

        async def on_start(cmd: Any) -> None:
            pids.append(cmd.pid)

        cmd = spec(tmp_path, "trap '' TERM; sleep 100 & echo ready; wait")
        task = asyncio.ensure_future(
            run_command(spawner, cmd, sink, grace_s=0.5, on_start=on_start)
        )
        await until(lambda: "ready" in sink.out())
        t0 = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.monotonic() - t0, pids[0]

    elapsed, pgid = arun(main)
    assert 0.5 <= elapsed < 10
    assert group_gone(pgid)


def test_cancel_before_the_start_is_reported_still_kills(tmp_path: Path) -> None:
    marker = tmp_path / "marker"

    async def main(spawner: Spawner) -> None:
        await spawner.start()
        cmd = spec(tmp_path, f"sleep 0.3; touch {marker}")
        task = asyncio.ensure_future(run_command(spawner, cmd, Sink(), grace_s=1))
        await asyncio.sleep(0)  # the Start frame is on its way
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(1)

    arun(main)
    assert not marker.exists()


def test_a_killed_spawner_fails_its_commands_and_is_replaced(tmp_path: Path) -> None:
    sink = Sink()

    async def main(spawner: Spawner) -> tuple[SpawnerCrashed, int, int]:
        pids: list[int] = []

        async def on_start(cmd: Any) -> None:
            pids.append(cmd.pid)

        cmd = spec(tmp_path, "echo ready; sleep 100")
        task = asyncio.ensure_future(run_command(spawner, cmd, sink, grace_s=5, on_start=on_start))
        await until(lambda: "ready" in sink.out())
        first = spawner.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        with pytest.raises(SpawnerCrashed) as crashed:
            await task
        await until(lambda: not alive(pids[0]))
        again = Sink()
        status = await run_command(spawner, spec(tmp_path, "echo again"), again, grace_s=1)
        assert status.returncode == 0 and again.out() == ["again"]
        assert spawner.pid not in (None, first) and spawner.spawned == 2
        return crashed.value, first, pids[0]

    crashed, first, pid = arun(main)
    assert "SIGKILL" in crashed.message
    assert crashed.details["spawner_pid"] == first and crashed.details["pid"] == pid


def test_the_spawner_exits_when_closed(tmp_path: Path) -> None:
    async def main(spawner: Spawner) -> int:
        await spawner.start()
        await run_command(spawner, spec(tmp_path, "true"), Sink(), grace_s=1)
        pid = spawner.pid
        assert pid is not None
        await spawner.close()
        return pid

    pid = arun(main)
    assert not alive(pid)


def test_stderr_and_stdout_inline_and_streamed_agree(tmp_path: Path) -> None:
    """Small outputs come back in the exit message, slow ones as they are written:
    the lines are the same either way."""
    script = "printf 'a\\nb'; printf 'c\\n' >&2"

    async def main(spawner: Spawner) -> list[list[tuple[str, str]]]:
        got = []
        for pause in ("", "sleep 0.2;"):
            sink = Sink()
            await run_command(spawner, spec(tmp_path, pause + script), sink, grace_s=1)
            got.append(sorted(sink.lines))
        return got

    quick, slow = arun(main)
    assert quick == slow == [("stderr", "c"), ("stdout", "a"), ("stdout", "b")]


def test_killed_by_signal(tmp_path: Path) -> None:
    async def main(spawner: Spawner) -> Any:
        return await run_command(spawner, spec(tmp_path, "kill -9 $$"), Sink(), grace_s=1)

    status = arun(main)
    assert status.returncode == -9 and status.signal_name == "SIGKILL"


SERVER_WITHOUT_PIDFDS = """
import socket, sys
from seqd.runtime.spawner.server import Server
Server(socket.socket(fileno=int(sys.argv[1])), use_pidfd=False).serve()
"""


def test_without_pidfds_exits_are_seen_through_sigchld(tmp_path: Path) -> None:
    """Where pidfd_open is missing (old kernels, some seccomp filters) the spawner
    notices exits through SIGCHLD; driven here frame by frame over its socket."""
    ours, theirs = socket.socketpair()
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER_WITHOUT_PIDFDS, str(theirs.fileno())],
        pass_fds=(theirs.fileno(),),
    )
    theirs.close()
    frames = FrameBuffer()
    pending: list[Any] = []

    def recv() -> Any:
        while not pending:
            data = ours.recv(65536)
            assert data, "the spawner went away"
            pending.extend(decode_from_spawner(body) for body in frames.feed(data))
        return pending.pop(0)

    def start(cid: int, script: str) -> None:
        argv = ["sh", "-c", script]
        ours.sendall(pack(Start(id=cid, argv=argv, env=ENV, cwd=str(tmp_path))))

    try:
        ours.settimeout(30)
        assert isinstance(recv(), Hello)
        start(1, "sleep 100")
        start(2, "echo hi; exit 3")
        seen: dict[int, Any] = {}
        while 2 not in seen:
            frame = recv()
            if isinstance(frame, Exited):
                seen[frame.id] = frame
        assert seen[2].returncode == 3 and seen[2].stdout == b"hi\n"
        ours.sendall(pack(Signal(id=1, signal=signal.SIGTERM)))
        while 1 not in seen:
            frame = recv()
            if isinstance(frame, Exited):
                seen[frame.id] = frame
        assert seen[1].returncode == -signal.SIGTERM
    finally:
        ours.close()
        assert proc.wait(30) == 0  # EOF: it exits
