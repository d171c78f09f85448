"""The daemon's side of its helper processes (python workers, the shell spawner): start
one with its control channel, read that channel's frames, watch for its exit.

Its own module because both helpers are started, read and reaped the same way; the
helper's side of the same life is ``seqd.runtime.lifeline``. Uses asyncio, so the
helpers themselves never import it.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
from collections.abc import Callable, Mapping
from typing import IO, Generic, TypeVar, cast

from seqd.runtime.frames import FrameBuffer, ProtocolError

F = TypeVar("F")


def spawn_helper(
    python: str,
    module: str,
    *,
    env: Mapping[str, str],
    stdout: int | IO[bytes] = subprocess.DEVNULL,
    stderr: int | IO[bytes] | None = None,
) -> tuple[subprocess.Popen[bytes], socket.socket]:
    """Start ``python -P -m MODULE FD PARENT_PID`` in a process group of its own, with
    exactly ``env`` (``seqd.runtime.taskenv.helper_env``: never the daemon's whole
    environment); the process and the daemon's end of its control channel (a Unix
    stream socket).

    ``Popen`` from the loop thread on purpose: vfork (no ``preexec_fn``) takes about a
    millisecond, and the helper's parent-death signal is bound to this thread."""
    parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    child_fd = child_sock.fileno()
    argv = [python, "-P", "-m", module, str(child_fd), str(os.getpid())]
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            pass_fds=(child_fd,),
            process_group=0,
            env=dict(env),
        )
    except BaseException:
        parent_sock.close()
        raise
    finally:
        child_sock.close()
    return proc, parent_sock


class FrameChannel(asyncio.Protocol, Generic[F]):
    """The daemon's end of a helper's control channel: each frame that arrives goes to
    ``on_frame``; one that cannot be read goes to ``on_error`` as a ``ProtocolError``
    (the caller kills the helper) and what was buffered is dropped. ``lost`` resolves
    once the channel closed, then ``on_lost`` is called."""

    def __init__(
        self,
        limit: int,
        decode: Callable[[bytes], F],
        on_frame: Callable[[F], None],
        on_error: Callable[[ProtocolError], None],
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        self._frames = FrameBuffer(limit)
        self._decode = decode
        self._on_frame = on_frame
        self._on_error = on_error
        self._on_lost = on_lost
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        try:
            for body in self._frames.feed(data):
                self._on_frame(self._decode(body))
        except ProtocolError as exc:
            self._frames.clear()
            self._on_error(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)
        if self._on_lost is not None:
            self._on_lost()

    def send(self, data: bytes) -> None:
        """Write a packed frame, unless the channel is closing."""
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def close(self) -> None:
        """Close the channel (a helper exits on the EOF)."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


def watch_exit(
    proc: subprocess.Popen[bytes], on_exit: Callable[[bool], None]
) -> Callable[[], None]:
    """Call ``on_exit(zombie)`` on the running loop once ``proc`` exits: through a pidfd,
    no polling (``zombie`` True: not reaped yet, so its process group id cannot have
    been reused), or where pidfds are refused, through a thread that reaps it
    (``zombie`` False). Returns what stops a pidfd watch early."""
    loop = asyncio.get_running_loop()
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        waited = loop.run_in_executor(None, proc.wait)
        waited.add_done_callback(lambda _f: on_exit(False))
        return lambda: None
    watching = True

    def stop() -> None:
        nonlocal watching
        if watching:
            watching = False
            loop.remove_reader(pidfd)
            os.close(pidfd)

    def readable() -> None:
        stop()
        on_exit(True)

    loop.add_reader(pidfd, readable)
    return stop


async def reap(proc: subprocess.Popen[bytes], timeout: float) -> int | None:
    """Wait for ``proc`` to exit (SIGKILL it past ``timeout``) and reap it; its return
    code."""
    if proc.poll() is not None:
        return proc.returncode
    gone: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def exited(_zombie: bool) -> None:
        if not gone.done():
            gone.set_result(None)

    stop = watch_exit(proc, exited)
    try:
        await asyncio.wait_for(gone, timeout)
    except TimeoutError:
        proc.kill()
    finally:
        stop()
    if proc.poll() is not None:
        return proc.returncode
    return await asyncio.to_thread(proc.wait)
