"""One python worker process as the daemon sees it: spawn, requests, stdio, exit.

Spawned (``seqd.runtime.helpers.spawn_helper``) in its own process group, so a cancel
reaches the task's own subprocesses too. Its exit is watched through a pidfd (no
polling); on exit whatever is left in its process group is killed, the remaining output
is read, and ``exited`` resolves with the return code. Its own module: the pool
(``pool``) decides which worker serves a run, this is the one worker.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import subprocess
from collections import deque
from collections.abc import Mapping
from typing import Any

import psutil

from seqd.model.runs import LogStream
from seqd.plugins.tasktype import Job
from seqd.runtime import helpers
from seqd.runtime.childpipes import output_pipes
from seqd.runtime.procs import describe_exit, kill_group, signal_name
from seqd.runtime.workerpool.calls import OpHandler, answer
from seqd.runtime.workerpool.messages import (
    MAX_FRAME_BYTES,
    Call,
    Execute,
    Frame,
    Hello,
    Log,
    Metric,
    ProtocolError,
    Result,
    SchemaRequest,
    SchemaResult,
    ToDaemon,
    decode_to_daemon,
    pack,
)
from seqd.runtime.workerpool.pipes import PipeReader

logger = logging.getLogger(__name__)

KILL_WAIT_S = 10.0
"""How long to wait for a SIGKILLed worker to be reaped."""
SETTLE_S = 2.0
"""After exit, how long to wait for the last frames still in the socket."""
STREAMS: dict[str, LogStream] = {"stdout": "stdout", "stderr": "stderr", "log": "log"}


class WorkerDied(Exception):
    """The worker ended without answering: a crash, ``os._exit``, ``sys.exit``, a kill."""

    def __init__(self, pid: int, returncode: int | None, started: bool, tail: list[str]) -> None:
        self.pid = pid
        self.returncode = returncode
        sig = signal_name(returncode)
        code = None if sig else returncode
        how = describe_exit(returncode)
        if started:
            self.message = f"worker process died during the run ({how})"
        else:
            last = tail[-1] if tail else "no output"
            self.message = f"worker process failed to start ({how}): {last}"
        self.details: dict[str, Any] = {"exit_code": code, "signal": sig, "pid": pid}
        if not started:
            self.details["stderr"] = "\n".join(tail)
        super().__init__(self.message)


class WorkerProcess:
    """A live worker; one request at a time. Create with ``await WorkerProcess.spawn``."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        out_fd: int,
        err_fd: int,
        handlers: Mapping[str, OpHandler],
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self.proc = proc
        self.pid = proc.pid
        self.runs = 0
        self.started = False
        """True once the worker said hello (it imported and bound itself)."""
        self._ready: asyncio.Future[None] = self._loop.create_future()
        self.exited: asyncio.Future[int | None] = self._loop.create_future()
        self._handlers = handlers
        self._job: Job | None = None
        self._pending: asyncio.Future[ToDaemon] | None = None
        self._abandoned = False
        """Whether the last request was given up (cancelled, timed out): one answer to
        it may still come, and is no protocol error."""
        self._calls: set[asyncio.Task[None]] = set()
        self._tail: deque[str] = deque(maxlen=20)
        self._channel: helpers.FrameChannel[ToDaemon] | None = None
        self._reaped = False
        self._settle: asyncio.Task[None] | None = None
        self._ps: psutil.Process | None = None
        self._pipes = (
            PipeReader(self._loop, out_fd, "stdout", self._emit),
            PipeReader(self._loop, err_fd, "stderr", self._emit),
        )
        helpers.watch_exit(proc, self._on_exit)

    @classmethod
    async def spawn(
        cls, python: str, handlers: Mapping[str, OpHandler], env: Mapping[str, str]
    ) -> WorkerProcess:
        """Start a worker with environment ``env`` (``taskenv.helper_env``)."""
        with output_pipes() as pipes:
            proc, sock = helpers.spawn_helper(
                python, "seqd.runtime.worker", env=env, stdout=pipes.out_w, stderr=pipes.err_w
            )
        worker = cls(proc, pipes.out_r, pipes.err_r, handlers)
        try:
            _, worker._channel = await worker._loop.create_unix_connection(
                lambda: helpers.FrameChannel(
                    MAX_FRAME_BYTES, decode_to_daemon, worker._on_frame, worker._on_bad_frame
                ),
                sock=sock,
            )
        except BaseException:
            sock.close()
            worker.signal(signal.SIGKILL)
            raise
        logger.debug("spawned python worker %d", worker.pid)
        return worker

    # -- state ---------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        return not self._reaped and not self.exited.done()

    @property
    def busy(self) -> bool:
        return self._pending is not None

    def resident_bytes(self) -> int:
        """The worker's resident set size now (0 if it cannot be read), for recycling:
        measured by the daemon, so the worker itself imports nothing to report it."""
        try:
            if self._ps is None:
                self._ps = psutil.Process(self.pid)
            return int(self._ps.memory_info().rss)
        except psutil.Error:
            return 0

    def death(self) -> WorkerDied:
        code = self.exited.result() if self.exited.done() else self.proc.returncode
        return WorkerDied(self.pid, code, self.started, list(self._tail))

    async def wait_ready(self, timeout: float) -> bool:
        """Wait for the worker's hello: True once it came, False on timeout; raises
        ``WorkerDied`` if the worker ended first (a broken interpreter, say)."""
        await asyncio.wait(
            (self._ready, self.exited), timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if self._ready.done():
            return True
        if self.exited.done():
            raise self.death()
        return False

    # -- requests ------------------------------------------------------------------

    async def execute(self, req: Execute, job: Job) -> Result:
        """Run one job; its output is attributed to ``job`` until ``end_run()``.
        Raises ``WorkerDied`` if the worker ends without a result."""
        if self._pending is not None:
            raise RuntimeError(f"python worker {self.pid} is busy")
        self._job = job
        self.runs += 1
        frame = await self._request(req, None)
        if not isinstance(frame, Result):
            raise ProtocolError(f"expected a result, got {type(frame).__name__}")
        return frame

    async def derive_schema(self, req: SchemaRequest, timeout: float) -> SchemaResult:
        """Raises ``TimeoutError`` (the caller discards the worker) or ``WorkerDied``."""
        if self._pending is not None:
            raise RuntimeError(f"python worker {self.pid} is busy")
        frame = await self._request(req, timeout)
        if not isinstance(frame, SchemaResult):
            raise ProtocolError(f"expected a schema, got {type(frame).__name__}")
        return frame

    async def _request(self, frame: Frame, timeout: float | None) -> ToDaemon:
        pending: asyncio.Future[ToDaemon] = self._loop.create_future()
        if self.exited.done():
            raise self.death()
        self._pending = pending  # answered by _on_frame, or failed by _settle_exit
        self._abandoned = False
        self._write(frame)
        try:
            if timeout is None:
                return await pending
            return await asyncio.wait_for(pending, timeout)
        except TimeoutError:
            self._abandoned = True
            msg = f"python worker {self.pid} did not answer within {timeout}s"
            raise TimeoutError(msg) from None
        except asyncio.CancelledError:
            self._abandoned = True
            raise

    def end_run(self) -> None:
        """Read what the run left in the pipes, then stop attributing output to it."""
        for pipe in self._pipes:
            pipe.drain()
            pipe.flush_partial()
        for task in self._calls:
            task.cancel()
        self._job = None
        self._pending = None

    # -- stopping ------------------------------------------------------------------

    def signal(self, sig: int) -> None:
        """Signal the worker's process group (it and the task's subprocesses)."""
        if not self._reaped:
            kill_group(self.pid, sig)

    def close(self) -> None:
        """Close the channel: an idle worker exits on the EOF."""
        if self._channel is not None:
            self._channel.close()

    async def terminate(self, grace_s: float) -> None:
        """SIGTERM (the task sees ``TaskCancelled``), SIGKILL after ``grace_s``."""
        if self.exited.done():
            return
        try:
            self.signal(signal.SIGTERM)
            await asyncio.wait((self.exited,), timeout=grace_s)
        finally:
            if not self.exited.done():
                logger.info("python worker %d ignored SIGTERM; killing it", self.pid)
                self.signal(signal.SIGKILL)
        await self.wait_exit(KILL_WAIT_S)

    async def retire(self, grace_s: float) -> None:
        """End an idle worker: EOF first, SIGKILL if it is not gone within ``grace_s``."""
        self.close()
        if not await self.wait_exit(grace_s):
            self.signal(signal.SIGKILL)
            await self.wait_exit(KILL_WAIT_S)

    async def wait_exit(self, timeout: float) -> bool:
        if not self.exited.done():
            await asyncio.wait((self.exited,), timeout=timeout)
        return self.exited.done()

    # -- channel -------------------------------------------------------------------

    def _write(self, frame: Frame) -> None:
        try:
            data = pack(frame)
        except (ProtocolError, TypeError, ValueError) as exc:
            logger.error("python worker %d: cannot send %s: %s", self.pid, type(frame), exc)
            self.signal(signal.SIGKILL)
            return
        self._send(data)

    def _send(self, data: bytes) -> None:
        if self._channel is not None:
            self._channel.send(data)

    def _on_bad_frame(self, exc: ProtocolError) -> None:
        logger.error("python worker %d: %s; killing it", self.pid, exc)
        self.signal(signal.SIGKILL)

    def _on_frame(self, frame: ToDaemon) -> None:
        if isinstance(frame, Log):
            self._emit(frame.stream, frame.text)
        elif isinstance(frame, Metric):
            self._metric(frame)
        elif isinstance(frame, Call):
            task = self._loop.create_task(self._serve_call(frame))
            self._calls.add(task)
            task.add_done_callback(self._calls.discard)
        elif isinstance(frame, Hello):
            self.started = True
            if not self._ready.done():
                self._ready.set_result(None)
        else:
            pending = self._pending
            if pending is not None and not pending.done():
                pending.set_result(frame)
            elif self._abandoned:
                # The answer to a request we stopped waiting for: a cancelled run's
                # worker reports how it ended (after SIGTERM), or it answered too late.
                self._abandoned = False
                logger.debug("python worker %d: late %s dropped", self.pid, type(frame).__name__)
            else:
                logger.warning("python worker %d: unexpected %s", self.pid, type(frame).__name__)

    def _emit(self, stream: str, text: str) -> None:
        job = self._job
        if stream == "stderr":
            self._tail.append(text)
        if job is None:
            logger.info("python worker %d %s: %s", self.pid, stream, text)
            return
        try:
            if not job.log_full:
                job.log(STREAMS.get(stream, "log"), text)
        except Exception:
            logger.exception("python worker %d: logging a line failed", self.pid)

    def _metric(self, frame: Metric) -> None:
        job = self._job
        if job is None:
            return  # between runs: nobody to attribute it to
        try:
            job.metric(frame.name, frame.value, frame.kind, frame.labels)
        except Exception:
            logger.exception("python worker %d: recording a metric failed", self.pid)

    async def _serve_call(self, frame: Call) -> None:
        self._send(await answer(frame, self._job, self._handlers))

    # -- exit ----------------------------------------------------------------------

    def _on_exit(self, zombie: bool) -> None:
        if zombie:  # so its group id cannot have been reused yet
            kill_group(self.pid, signal.SIGKILL)
        self._reaped = True
        code = self.proc.poll()
        self._settle = self._loop.create_task(self._settle_exit(code))

    async def _settle_exit(self, code: int | None) -> None:
        channel = self._channel
        if channel is not None and not channel.lost.done():
            await asyncio.wait((channel.lost,), timeout=SETTLE_S)
        if channel is not None:
            channel.close()
        for pipe in self._pipes:
            pipe.drain()
            pipe.close()
        logger.debug("python worker %d exited with %s", self.pid, code)
        if not self.exited.done():
            self.exited.set_result(code)
        pending = self._pending
        if pending is not None and not pending.done():
            pending.set_exception(self.death())  # it ended without an answer
