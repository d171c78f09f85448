"""The daemon's side of the spawner process: keep one running, send it commands, route
what it reports to each ``RunningCommand``.

If the spawner process dies, the commands it was running are killed (their process
groups are known here) and their runs fail with ``SpawnerCrashed`` — type ``crashed``;
the next command starts a new spawner. A command's own life is
``seqd.runtime.spawner.command``; running one to its end, ``seqd.runtime.spawner.run``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Mapping

import msgspec

from seqd.runtime import helpers
from seqd.runtime.procs import SpawnerCrashed, SpawnError, describe_exit, kill_group
from seqd.runtime.spawner import messages
from seqd.runtime.spawner.command import OutputSink, RunningCommand
from seqd.runtime.spawner.messages import CommandSpec
from seqd.runtime.taskenv import helper_env

logger = logging.getLogger(__name__)

REAP_WAIT_S = 5.0
"""How long a dead spawner may take to be reaped before the error names no cause."""
CLOSE_WAIT_S = 5.0


class _Channel(helpers.FrameChannel[messages.FromSpawner]):
    """The channel to one spawner process, ``proc``."""

    def __init__(self, spawner: Spawner, proc: subprocess.Popen[bytes]) -> None:
        super().__init__(
            messages.MAX_FRAME_BYTES,
            messages.decode_from_spawner,
            spawner._on_frame,
            self._on_bad_frame,
            lambda: spawner._on_lost(self),
        )
        self.proc = proc

    def _on_bad_frame(self, exc: messages.ProtocolError) -> None:
        logger.error("spawner %d: %s; killing it", self.proc.pid, exc)
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        if self.transport is not None:
            self.transport.abort()


class Spawner:
    """Owns one spawner process at a time, started on first use (or by ``start``)."""

    def __init__(self, python: str = sys.executable, env: Mapping[str, str] | None = None) -> None:
        self.python = python
        self.env = helper_env() if env is None else dict(env)
        """The spawner process's own environment (``taskenv.helper_env``); each command
        gets exactly the one its ``CommandSpec`` says."""
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
        proc, sock = helpers.spawn_helper(self.python, "seqd.runtime.spawner", env=self.env)
        self.spawned += 1
        try:
            _, channel = await loop.create_unix_connection(lambda: _Channel(self, proc), sock=sock)
        except BaseException:
            sock.close()
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
        channel.send(messages.pack(messages.Start(id=cmd.id, **msgspec.structs.asdict(spec))))
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
            channel.send(messages.pack(messages.Signal(id=cmd.id, signal=sig)))
        elif cmd.pid:
            kill_group(cmd.pid, sig)

    def send(self, frame: messages.Frame) -> None:
        if self._channel is not None:
            self._channel.send(messages.pack(frame))

    def _on_frame(self, frame: messages.FromSpawner) -> None:
        if isinstance(frame, messages.Hello):  # nothing waits for it: a command is sent at once
            return
        cmd = self._commands.get(frame.id)
        if cmd is None:
            return
        if isinstance(frame, messages.Output):
            cmd.on_output(frame)
        elif isinstance(frame, messages.Started):
            cmd.pid = frame.pid
            if not cmd.started.done():
                cmd.started.set_result(frame.pid)
            if cmd.abandoned:
                self.signal(cmd, signal.SIGKILL)
        elif isinstance(frame, messages.Exited):
            del self._commands[frame.id]
            cmd.on_exited(frame)
        elif isinstance(frame, messages.StartFailed):
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
                kill_group(cmd.pid, signal.SIGKILL)
        task = asyncio.ensure_future(self._report_death(channel, lost))
        self._reaping.add(task)
        task.add_done_callback(self._reaping.discard)

    async def _report_death(self, channel: _Channel, lost: list[RunningCommand]) -> None:
        code = await helpers.reap(channel.proc, REAP_WAIT_S)
        how = describe_exit(code)
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
            channel.close()
            await helpers.reap(channel.proc, timeout)
        if self._reaping:
            await asyncio.wait(list(self._reaping), timeout=timeout)


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
