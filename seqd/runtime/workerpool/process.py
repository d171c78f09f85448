"""One python worker process as the daemon sees it: spawn, channel, stdio, exit.

Spawned with ``subprocess.Popen`` from the loop thread (vfork, no ``preexec_fn``) in
its own process group, so a cancel reaches the task's own subprocesses too. Its exit
is watched through a pidfd (no polling); on exit whatever is left in its process group
is killed, the remaining output is read, and ``exited`` resolves with the return code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from seqd.runtime.workerpool.messages import (
    HEADER,
    Call,
    ErrorInfo,
    Execute,
    Frame,
    Hello,
    Log,
    ProtocolError,
    Reply,
    Result,
    SchemaRequest,
    SchemaResult,
    ToDaemon,
    decode_to_daemon,
    frame_length,
    pack,
)
from seqd.runtime.workerpool.pipes import PipeReader

if TYPE_CHECKING:
    from seqd.model.runs import LogStream
    from seqd.plugins.tasktype import Job

logger = logging.getLogger(__name__)

OpHandler = Callable[["Job", Any], Awaitable[Any]]
"""Serves one ``ctx.call(op, args)`` of a run: ``await handler(job, args)``; the value
must be msgpack-able. Raising a ``SeqdError`` or ``TaskFailed`` passes its type on."""

KILL_WAIT_S = 10.0
"""How long to wait for a SIGKILLed worker to be reaped."""
SETTLE_S = 2.0
"""After exit, how long to wait for the last frames still in the socket."""
DAEMON_ONLY_ENV = (
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
    "LISTEN_FDS",
    "LISTEN_PID",
    "LISTEN_FDNAMES",
)
"""systemd's hand-overs to the daemon; task code must not act on them."""
STREAMS: dict[str, LogStream] = {"stdout": "stdout", "stderr": "stderr", "log": "log"}


class WorkerDied(Exception):
    """The worker ended without answering: a crash, ``os._exit``, ``sys.exit``, a kill."""

    def __init__(self, pid: int, returncode: int | None, started: bool, tail: list[str]) -> None:
        self.pid = pid
        self.returncode = returncode
        sig: str | None = None
        code: int | None = returncode
        if returncode is not None and returncode < 0:
            try:
                sig = signal.Signals(-returncode).name
            except ValueError:
                sig = f"signal {-returncode}"
            code = None
        how = f"signal {sig}" if sig else f"exit code {code}"
        if started:
            self.message = f"worker process died during the run ({how})"
        else:
            last = tail[-1] if tail else "no output"
            self.message = f"worker process failed to start ({how}): {last}"
        self.details: dict[str, Any] = {"exit_code": code, "signal": sig, "pid": pid}
        if not started:
            self.details["stderr"] = "\n".join(tail)
        super().__init__(self.message)


class _Channel(asyncio.Protocol):
    """Splits the byte stream from the worker into frames."""

    def __init__(self, worker: WorkerProcess) -> None:
        self._worker = worker
        self._buf = bytearray()
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        try:
            while len(buf) >= HEADER.size:
                n = frame_length(bytes(buf[: HEADER.size]))
                end = HEADER.size + n
                if len(buf) < end:
                    break
                frame = decode_to_daemon(bytes(buf[HEADER.size : end]))
                del buf[:end]
                self._worker._on_frame(frame)
        except ProtocolError as exc:
            logger.error("python worker %d: %s; killing it", self._worker.pid, exc)
            buf.clear()
            self._worker.signal(signal.SIGKILL)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)


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
        self._calls: set[asyncio.Task[None]] = set()
        self._tail: deque[str] = deque(maxlen=20)
        self._transport: asyncio.Transport | None = None
        self._channel: _Channel | None = None
        self._reaped = False
        self._settle: asyncio.Task[None] | None = None
        self._pipes = (
            PipeReader(self._loop, out_fd, "stdout", self._emit),
            PipeReader(self._loop, err_fd, "stderr", self._emit),
        )
        self._watch_exit()

    @classmethod
    async def spawn(cls, python: str, handlers: Mapping[str, OpHandler]) -> WorkerProcess:
        parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        child_fd = child_sock.fileno()
        argv = [python, "-P", "-m", "seqd.runtime.worker", str(child_fd), str(os.getpid())]
        try:
            # Popen on purpose: vfork from the loop thread (no preexec_fn) takes about a
            # millisecond, and the parent-death signal is bound to this thread.
            proc = subprocess.Popen(  # noqa: ASYNC220
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out_w,
                stderr=err_w,
                pass_fds=(child_fd,),
                process_group=0,
                env={k: v for k, v in os.environ.items() if k not in DAEMON_ONLY_ENV},
            )
        except BaseException:
            parent_sock.close()
            os.close(out_r)
            os.close(err_r)
            raise
        finally:
            child_sock.close()
            os.close(out_w)
            os.close(err_w)
        worker = cls(proc, out_r, err_r, handlers)
        try:
            transport, channel = await worker._loop.create_unix_connection(
                lambda: _Channel(worker), sock=parent_sock
            )
        except BaseException:
            parent_sock.close()
            worker.signal(signal.SIGKILL)
            raise
        worker._transport = transport
        worker._channel = channel
        logger.debug("spawned python worker %d", worker.pid)
        return worker

    # -- state ---------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        return not self._reaped and not self.exited.done()

    @property
    def busy(self) -> bool:
        return self._pending is not None

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
        self._write(frame)
        if timeout is None:
            return await pending
        try:
            return await asyncio.wait_for(pending, timeout)
        except TimeoutError:
            msg = f"python worker {self.pid} did not answer within {timeout}s"
            raise TimeoutError(msg) from None

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
        if self._reaped:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    def close(self) -> None:
        """Close the channel: an idle worker exits on the EOF."""
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()

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
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def _on_frame(self, frame: ToDaemon) -> None:
        if isinstance(frame, Log):
            self._emit(frame.stream, frame.text)
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

    async def _serve_call(self, frame: Call) -> None:
        job = self._job
        handler = self._handlers.get(frame.op)
        if job is None or handler is None:
            why = "no run is active" if job is None else f"no operation named {frame.op!r}"
            reply = Reply(id=frame.id, ok=False, error=ErrorInfo(type="unknown_op", message=why))
        else:
            try:
                value = await handler(job, frame.args)
                reply = Reply(id=frame.id, ok=True, value=value)
            except Exception as exc:
                reply = Reply(id=frame.id, ok=False, error=_error_info(frame.op, exc))
        try:
            data = pack(reply)
        except (ProtocolError, TypeError, ValueError) as exc:
            info = ErrorInfo(type="internal", message=f"{frame.op}: cannot encode reply: {exc}")
            data = pack(Reply(id=frame.id, ok=False, error=info))
        self._send(data)

    # -- exit ----------------------------------------------------------------------

    def _watch_exit(self) -> None:
        try:
            pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            fut = self._loop.run_in_executor(None, self.proc.wait)
            fut.add_done_callback(lambda _f: self._on_exit(killpg=False))
            return

        def readable() -> None:
            self._loop.remove_reader(pidfd)
            os.close(pidfd)
            self._on_exit(killpg=True)

        self._loop.add_reader(pidfd, readable)

    def _on_exit(self, killpg: bool) -> None:
        if killpg:
            # The worker is a zombie, so its group id cannot have been reused yet.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
        self._reaped = True
        code = self.proc.poll()
        self._settle = self._loop.create_task(self._settle_exit(code))

    async def _settle_exit(self, code: int | None) -> None:
        channel = self._channel
        if channel is not None and not channel.lost.done():
            await asyncio.wait((channel.lost,), timeout=SETTLE_S)
        if self._transport is not None:
            self._transport.close()
        for pipe in self._pipes:
            pipe.drain()
            pipe.close()
        logger.debug("python worker %d exited with %s", self.pid, code)
        if not self.exited.done():
            self.exited.set_result(code)
        pending = self._pending
        if pending is not None and not pending.done():
            pending.set_exception(self.death())  # it ended without an answer


def _error_info(op: str, exc: Exception) -> ErrorInfo:
    kind = getattr(exc, "type", None)
    message = getattr(exc, "message", None)
    details = getattr(exc, "details", None)
    if isinstance(kind, str) and isinstance(message, str):
        return ErrorInfo(type=kind, message=message, details=dict(details or {}))
    logger.exception("ctx.call %s failed", op)
    return ErrorInfo(type="internal", message=f"{op} failed: {type(exc).__name__}")
