"""The daemon's side of the spawner: start commands, stream their lines, end them.

``run_command`` is the one boundary for "run this command, stream its output, give me
its exit status and resource use": the shell task type and the ``shell.exec`` tool both
go through it. Output lines go to an ``OutputSink`` (a ``Job`` is one) as they arrive;
the sink's ``wait_logged`` paces the command (unacknowledged output waits in its pipe)
and ``log_full`` makes the spawner drop the rest.

If the spawner process dies, the commands it was running are killed (their process
groups are known here) and their runs fail with ``SpawnerCrashed`` — type ``crashed``;
the next command starts a new spawner.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, cast

import msgspec

from seqd.model.runs import LogStream
from seqd.runtime.lines import LineSplitter
from seqd.runtime.procs import ExitStatus, SpawnError
from seqd.runtime.spawner.messages import (
    Ack,
    Discard,
    Exited,
    Frame,
    FrameBuffer,
    FromSpawner,
    Hello,
    Output,
    ProtocolError,
    Signal,
    Start,
    Started,
    StartFailed,
    decode_from_spawner,
    pack,
)
from seqd.runtime.workerpool.process import DAEMON_ONLY_ENV

logger = logging.getLogger(__name__)

REAP_WAIT_S = 5.0
"""How long a dead spawner may take to be reaped before the error names no cause."""
CLOSE_WAIT_S = 5.0


class SpawnerCrashed(Exception):
    """The spawner process died while the command ran (or before it started)."""

    def __init__(self, message: str, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class OutputSink(Protocol):
    """Where a command's lines go (``seqd.plugins.tasktype.Job`` is one)."""

    def log(self, stream: LogStream, text: str) -> None: ...

    @property
    def log_full(self) -> bool: ...

    async def wait_logged(self, backlog_bytes: int = 1 << 20) -> None: ...


class CommandSpec(msgspec.Struct, kw_only=True, frozen=True):
    """What to run: exactly this argv, environment and directory. ``work_dir`` is
    created first (and ``input`` written to ``work_dir/input_file``); unless it holds
    directories it is removed after the command (``RunningCommand.work_dir_removed``)."""

    argv: list[str]
    env: dict[str, str]
    cwd: str
    work_dir: str | None = None
    input_file: str | None = None
    input: bytes = b""
    stdin_from_input: bool = False
    """The command reads ``input`` on its stdin (else stdin is ``/dev/null``)."""
    spare_dir: str | None = None
    """Where emptied work dirs wait to be reused (see ``seqd.runtime.spawner.server``)."""


# -- one command ------------------------------------------------------------------------


class RunningCommand:
    """A started command (the leader of its own process group, ``pgid == pid``)."""

    def __init__(self, spawner: Spawner, cid: int, sink: OutputSink) -> None:
        loop = asyncio.get_running_loop()
        self._spawner = spawner
        self.id = cid
        self.sink = sink
        self.pid = 0
        self.started: asyncio.Future[int] = loop.create_future()
        self.exited: asyncio.Future[ExitStatus] = loop.create_future()
        self.work_dir_removed = False
        self.abandoned = False
        self._splitters = {"stdout": LineSplitter(), "stderr": LineSplitter()}
        self._discarding = False
        self._to_ack = 0
        self._acking: asyncio.Task[None] | None = None

    async def wait(self) -> ExitStatus:
        return await asyncio.shield(self.exited)

    def signal_group(self, sig: int) -> None:
        """Signal the command's process group while it lives (race-free: the spawner
        signals only a group whose leader it has not reaped)."""
        if not self.exited.done():
            self._spawner.signal(self, sig)

    async def terminate(self, grace_s: float) -> ExitStatus:
        """SIGTERM (and SIGCONT) the group, SIGKILL after ``grace_s``, wait for the
        end. Cancelled during the grace, it SIGKILLs at once and re-raises."""
        if not self.exited.done():
            self.signal_group(signal.SIGTERM)
            self.signal_group(signal.SIGCONT)
            if grace_s > 0:
                try:
                    await asyncio.wait_for(asyncio.shield(self.exited), grace_s)
                except TimeoutError:
                    pass
                except asyncio.CancelledError:
                    self.signal_group(signal.SIGKILL)
                    raise
            self.signal_group(signal.SIGKILL)
        return await self.wait()

    # -- frames ------------------------------------------------------------------------

    def on_output(self, frame: Output) -> None:
        self._lines(frame.stream, frame.data)
        if self.sink.log_full:
            if not self._discarding:
                self._discarding = True
                self._spawner.send(Discard(id=self.id))
            return
        self._to_ack += len(frame.data)
        if self._acking is None:
            self._acking = asyncio.ensure_future(self._ack())

    async def _ack(self) -> None:
        try:
            while self._to_ack and not self.exited.done():
                await self.sink.wait_logged()
                size, self._to_ack = self._to_ack, 0
                self._spawner.send(Ack(id=self.id, size=size))
        finally:
            self._acking = None

    def on_exited(self, frame: Exited) -> None:
        self._lines("stdout", frame.stdout)
        self._lines("stderr", frame.stderr)
        for stream, splitter in self._splitters.items():
            self._emit(stream, splitter.flush())
        self.work_dir_removed = frame.work_dir_removed
        status = ExitStatus(
            pid=self.pid,
            returncode=frame.returncode,
            cpu_s=frame.cpu_s,
            peak_rss_bytes=frame.peak_rss_bytes,
        )
        if not self.exited.done():
            self.exited.set_result(status)

    def _lines(self, stream: str, data: bytes) -> None:
        if data and not self.sink.log_full:
            self._emit(stream, self._splitters[stream].feed(data))

    def _emit(self, stream: str, lines: list[str]) -> None:
        kind: LogStream = "stderr" if stream == "stderr" else "stdout"
        sink = self.sink
        for line in lines:
            if sink.log_full:
                return
            sink.log(kind, line)

    def fail(self, exc: BaseException) -> None:
        for fut in (self.started, self.exited):
            if not fut.done():
                fut.set_exception(exc)
                fut.exception()  # retrieved: nobody may be waiting for both


# -- the spawner process -----------------------------------------------------------------


class _Channel(asyncio.Protocol):
    def __init__(self, spawner: Spawner, proc: subprocess.Popen[bytes]) -> None:
        self.spawner = spawner
        self.proc = proc
        self.frames = FrameBuffer()
        self.transport: asyncio.Transport | None = None
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        try:
            for body in self.frames.feed(data):
                self.spawner._on_frame(self, decode_from_spawner(body))
        except ProtocolError as exc:
            logger.error("spawner %d: %s; killing it", self.proc.pid, exc)
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            if self.transport is not None:
                self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)
        self.spawner._on_lost(self)

    def send(self, frame: Frame) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(pack(frame))


class Spawner:
    """Owns one spawner process at a time, started on first use (or by ``start``)."""

    def __init__(self, python: str = sys.executable) -> None:
        self.python = python
        self.spawned = 0
        """Spawner processes started so far (a restart after a crash adds one)."""
        self._channel: _Channel | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._commands: dict[int, RunningCommand] = {}
        self._ids = itertools.count(1)
        self._reaping: set[asyncio.Task[None]] = set()

    @property
    def pid(self) -> int | None:
        return self._channel.proc.pid if self._channel is not None else None

    @property
    def running(self) -> int:
        return len(self._commands)

    async def start(self) -> None:
        """Make sure a spawner process is up (it is also started on first use)."""
        await self._ensure()

    async def _ensure(self) -> _Channel:
        loop = asyncio.get_running_loop()
        channel = self._channel
        if channel is not None and self._loop is loop and not channel.lost.done():
            return channel
        self._loop = loop
        self._channel = channel = await self._spawn()
        return channel

    async def _spawn(self) -> _Channel:
        loop = asyncio.get_running_loop()
        parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        child_fd = child_sock.fileno()
        argv = [self.python, "-P", "-m", "seqd.runtime.spawner", str(child_fd), str(os.getpid())]
        try:
            # From the loop thread on purpose: the spawner's parent-death signal is
            # bound to the thread that started it.
            proc = subprocess.Popen(  # noqa: ASYNC220
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                pass_fds=(child_fd,),
                process_group=0,
                env={k: v for k, v in os.environ.items() if k not in DAEMON_ONLY_ENV},
            )
        except BaseException:
            parent_sock.close()
            raise
        finally:
            child_sock.close()
        self.spawned += 1
        try:
            _, channel = await loop.create_unix_connection(
                lambda: _Channel(self, proc), sock=parent_sock
            )
        except BaseException:
            parent_sock.close()
            proc.kill()
            raise
        logger.debug("started spawner process %d", proc.pid)
        return channel

    # -- commands ----------------------------------------------------------------------

    async def launch(self, spec: CommandSpec, sink: OutputSink) -> RunningCommand:
        """Start ``spec``; raises ``SpawnError`` if it cannot start, ``ValueError`` for
        a NUL byte in argv or env, ``SpawnerCrashed`` if the spawner died meanwhile.
        Cancelled before the command started, it makes sure the command is killed."""
        _check_nul(spec)
        spec = _absolute(spec)  # the spawner changes directory for every command
        channel = await self._ensure()
        cmd = RunningCommand(self, next(self._ids), sink)
        self._commands[cmd.id] = cmd
        channel.send(
            Start(
                id=cmd.id,
                argv=spec.argv,
                env=spec.env,
                cwd=spec.cwd,
                work_dir=spec.work_dir,
                input_file=spec.input_file,
                input=spec.input,
                stdin_from_input=spec.stdin_from_input,
                spare_dir=spec.spare_dir,
            )
        )
        try:
            cmd.pid = await asyncio.shield(cmd.started)
        except asyncio.CancelledError:
            cmd.abandoned = True  # killed as soon as the spawner says it started
            if cmd.started.done() and not cmd.started.exception():
                cmd.signal_group(signal.SIGKILL)
            raise
        return cmd

    def signal(self, cmd: RunningCommand, sig: int) -> None:
        channel = self._channel
        if cmd.id in self._commands and channel is not None and not channel.lost.done():
            channel.send(Signal(id=cmd.id, signal=sig))
        elif cmd.pid:
            _killpg(cmd.pid, sig)

    def send(self, frame: Frame) -> None:
        if self._channel is not None:
            self._channel.send(frame)

    def _on_frame(self, channel: _Channel, frame: FromSpawner) -> None:
        if isinstance(frame, Hello):
            if not channel.ready.done():
                channel.ready.set_result(None)
            return
        cmd = self._commands.get(frame.id)
        if cmd is None:
            return
        if isinstance(frame, Output):
            cmd.on_output(frame)
        elif isinstance(frame, Started):
            cmd.pid = frame.pid
            if not cmd.started.done():
                cmd.started.set_result(frame.pid)
            if cmd.abandoned:
                self.signal(cmd, signal.SIGKILL)
        elif isinstance(frame, Exited):
            del self._commands[frame.id]
            cmd.on_exited(frame)
        elif isinstance(frame, StartFailed):
            del self._commands[frame.id]
            cmd.fail(SpawnError(frame.message, frame.errno))

    def _on_lost(self, channel: _Channel) -> None:
        """The spawner is gone: kill what it was running, then fail those commands."""
        if channel is self._channel:
            self._channel = None
        lost = list(self._commands.values())
        self._commands.clear()
        for cmd in lost:
            if cmd.pid:
                _killpg(cmd.pid, signal.SIGKILL)
        task = asyncio.ensure_future(self._report_death(channel, lost))
        self._reaping.add(task)
        task.add_done_callback(self._reaping.discard)

    async def _report_death(self, channel: _Channel, lost: list[RunningCommand]) -> None:
        code = await _reap(channel.proc, REAP_WAIT_S)
        how = _describe_exit(code)
        if lost or code != 0:
            logger.error("spawner process %d died (%s)", channel.proc.pid, how)
        for cmd in lost:
            cmd.fail(
                SpawnerCrashed(
                    f"the spawner process died during the run ({how})",
                    {"spawner_pid": channel.proc.pid, "exit": how, "pid": cmd.pid or None},
                )
            )

    async def close(self, timeout: float = CLOSE_WAIT_S) -> None:
        """Close the channel (the spawner exits on the EOF) and wait for it."""
        channel, self._channel = self._channel, None
        if channel is not None:
            if channel.transport is not None:
                channel.transport.close()
            await _reap(channel.proc, timeout)
        if self._reaping:
            await asyncio.wait(list(self._reaping), timeout=timeout)


async def run_command(
    spawner: Spawner,
    spec: CommandSpec,
    sink: OutputSink,
    *,
    grace_s: float,
    on_start: Callable[[RunningCommand], Awaitable[None]] | None = None,
    on_end: Callable[[RunningCommand, ExitStatus], Awaitable[None]] | None = None,
) -> ExitStatus:
    """Run ``spec`` to its end, its lines going to ``sink`` as they come.

    Cancelled (a user's cancel, a timeout, shutdown), it ends the process group —
    SIGTERM, SIGKILL after ``grace_s`` — and waits for that even if cancelled again,
    calls ``on_end``, then re-raises. Raises ``SpawnError`` (could not start),
    ``ValueError`` (NUL in argv/env) or ``SpawnerCrashed``."""
    cmd = await spawner.launch(spec, sink)
    try:
        if on_start is not None:
            await on_start(cmd)
        await cmd.wait()
    except asyncio.CancelledError:
        await _finish_despite_cancel(_end(cmd, cmd.terminate(grace_s), on_end))
        raise
    except BaseException:
        if not cmd.exited.done():
            await _finish_despite_cancel(_end(cmd, cmd.terminate(0), on_end))
        raise
    return await _finish_despite_cancel(_end(cmd, cmd.wait(), on_end))


async def _end(
    cmd: RunningCommand,
    ending: Awaitable[ExitStatus],
    on_end: Callable[[RunningCommand, ExitStatus], Awaitable[None]] | None,
) -> ExitStatus:
    status = await ending
    if on_end is not None:
        await on_end(cmd, status)
    return status


async def _finish_despite_cancel(aw: Awaitable[ExitStatus]) -> ExitStatus:
    """Run ``aw`` to the end even if we are cancelled again meanwhile (a timeout then a
    shutdown), then re-raise that cancellation: the group must always be ended."""
    task = asyncio.ensure_future(aw)
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(task)
            break
        except asyncio.CancelledError:
            if task.done():
                raise
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    return result


# -- helpers -----------------------------------------------------------------------------


def _check_nul(spec: CommandSpec) -> None:
    if any("\0" in arg for arg in spec.argv):
        raise ValueError("embedded null byte in the command")
    for key, value in spec.env.items():
        if "\0" in key or "\0" in value:
            raise ValueError(f"embedded null byte in environment variable {key!r}")
        if not key or "=" in key:
            raise ValueError(f"illegal environment variable name {key!r}")


def _absolute(spec: CommandSpec) -> CommandSpec:
    """Paths as the daemon means them (relative to its own working directory)."""
    paths = (spec.cwd, spec.work_dir, spec.spare_dir)
    if all(p is None or p.startswith("/") for p in paths):
        return spec
    return msgspec.structs.replace(
        spec,
        cwd=os.path.abspath(spec.cwd),
        work_dir=os.path.abspath(spec.work_dir) if spec.work_dir else None,
        spare_dir=os.path.abspath(spec.spare_dir) if spec.spare_dir else None,
    )


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def _reap(proc: subprocess.Popen[bytes], timeout: float) -> int | None:
    """Wait for the spawner to exit (SIGKILL it past ``timeout``) and reap it; its
    return code. Its exit is awaited through a pidfd, not by polling."""
    if proc.poll() is not None:
        return proc.returncode
    loop = asyncio.get_running_loop()
    try:
        pidfd = os.pidfd_open(proc.pid)
    except OSError:
        pidfd = -1
    if pidfd >= 0:
        gone: asyncio.Future[None] = loop.create_future()

        def readable() -> None:
            if not gone.done():
                gone.set_result(None)

        loop.add_reader(pidfd, readable)
        try:
            await asyncio.wait_for(gone, timeout)
        except TimeoutError:
            proc.kill()
        finally:
            loop.remove_reader(pidfd)
            os.close(pidfd)
        if proc.poll() is not None:
            return proc.returncode
    else:
        try:
            return await asyncio.wait_for(asyncio.to_thread(proc.wait), timeout)
        except TimeoutError:
            proc.kill()
    return await asyncio.to_thread(proc.wait)


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "unknown status"
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"
