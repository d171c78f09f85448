"""One command the spawner runs, as the daemon sees it: its start and exit, its output
turned into lines for an ``OutputSink``, the pacing of that output, and ending its
process group.

Its own module because a command's life (frames in, lines out, acknowledgements back)
is separate from keeping the spawner process alive (``seqd.runtime.spawner.client``);
it reaches the spawner only through ``Control``.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Protocol

from seqd.model.runs import LogStream
from seqd.runtime.lines import LineSplitter
from seqd.runtime.procs import ExitStatus
from seqd.runtime.spawner.messages import Ack, Discard, Exited, Frame, Output


class OutputSink(Protocol):
    """Where a command's lines go (``seqd.plugins.tasktype.Job`` is one)."""

    def log(self, stream: LogStream, text: str) -> None: ...

    @property
    def log_full(self) -> bool: ...

    async def wait_logged(self, backlog_bytes: int = 1 << 20) -> None: ...


class Control(Protocol):
    """What a command needs of the spawner that runs it
    (``seqd.runtime.spawner.client.Spawner``)."""

    def send(self, frame: Frame) -> None: ...

    def signal(self, cmd: RunningCommand, sig: int) -> None: ...


class RunningCommand:
    """A started command (the leader of its own process group, ``pgid == pid``)."""

    def __init__(self, spawner: Control, cid: int, sink: OutputSink) -> None:
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
