"""The spawner process: starts commands, reads their output, reaps them.

Why a process of its own: a command started from the daemon costs the daemon's event
loop the whole spawn (``Popen`` holds the GIL while the vforked child execs), the file
work of the run and the thread hops around both. Here a small, clean interpreter does
that work on the other CPU and reports back over one socket, so the daemon's share of a
shell run is a few frames.

One thread, one ``epoll``: the control socket, each command's stdout/stderr pipes and
its pidfd (or, where pidfds are refused, a SIGCHLD wake-up pipe). Commands are started
with ``posix_spawn`` (vfork-like, in a new session) with exactly the environment they
are given (``seqd.runtime.spawner.launch``), in work dirs that are reused
(``seqd.runtime.spawner.spares``). When a command's leader exits, what is left of its
process group is killed (the zombie leader still holds the group id), its output is
drained and it is reaped; ``Exited`` carries the status, the resource use and any
output not yet sent.

The spawner dies with the daemon: ``PR_SET_PDEATHSIG`` and EOF on the control socket.
Commands are not children it keeps alive: they outlive it, as they outlive the daemon,
and the daemon ends their groups itself.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import sys
import time

from seqd.runtime.lifeline import EXIT_SOFTWARE, run_helper
from seqd.runtime.procs import SpawnError, kill_group
from seqd.runtime.spawner.launch import spawn
from seqd.runtime.spawner.messages import (
    INLINE_BYTES,
    STREAM_AFTER_S,
    WINDOW_BYTES,
    Ack,
    Discard,
    Exited,
    Frame,
    FrameBuffer,
    Hello,
    Output,
    ProtocolError,
    Signal,
    Start,
    Started,
    StartFailed,
    decode_to_spawner,
    pack,
)
from seqd.runtime.spawner.spares import SparePool

READ_BYTES = 64 * 1024
STREAMS = ("stdout", "stderr")


class Command:
    """One started command: its pipes, what it wrote and how much the daemon took."""

    __slots__ = (
        "buffers",
        "discard",
        "id",
        "input_file",
        "paused",
        "pid",
        "pidfd",
        "pipes",
        "remove_work_dir",
        "spare_dir",
        "stream_at",
        "streaming",
        "unacked",
        "work_dir",
    )

    def __init__(self, req: Start, pid: int, pidfd: int, pipes: dict[int, str]) -> None:
        self.id = req.id
        self.pid = pid
        self.pidfd = pidfd
        self.pipes = pipes
        self.work_dir = req.work_dir
        self.remove_work_dir = req.remove_work_dir
        self.spare_dir = req.spare_dir
        self.input_file = req.input_file
        self.buffers: dict[str, bytearray] = {s: bytearray() for s in STREAMS}
        self.streaming = False
        self.stream_at = time.monotonic() + STREAM_AFTER_S
        self.unacked = 0
        self.paused = False
        self.discard = False


class Server:
    """``use_pidfd`` None: pidfds where the kernel (and a seccomp filter) allow them;
    without, exits are noticed through SIGCHLD and ``waitid(WNOWAIT)``."""

    def __init__(self, sock: socket.socket, use_pidfd: bool | None = None) -> None:
        self.sock = sock
        self.use_pidfd = _pidfds_work() if use_pidfd is None else use_pidfd
        self.sigchld = -1
        if not self.use_pidfd:
            self.sigchld, wakeup = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
            signal.signal(signal.SIGCHLD, _ignore_signal)  # a handler: the fd is written
            signal.set_wakeup_fd(wakeup, warn_on_full_buffer=False)
        self.epoll = select.epoll()
        self.frames = FrameBuffer()
        self.commands: dict[int, Command] = {}
        self.pipes: dict[int, tuple[Command, str]] = {}
        self.exits: dict[int, Command] = {}
        self.waiting: list[Command] = []
        """Commands that hold output back, in ``stream_at`` order."""
        self.spares = SparePool()
        self.closing: list[int] = []
        """Descriptors done with during this batch of events, closed after it: closed
        at once, a number could be reused by a command started later in the batch and
        a stale event for the old descriptor would be taken for the new one."""

    # -- the loop ----------------------------------------------------------------------

    def serve(self) -> int:
        self.epoll.register(self.sock.fileno(), select.EPOLLIN)
        if self.sigchld >= 0:
            self.epoll.register(self.sigchld, select.EPOLLIN)
        self.send(Hello(pid=os.getpid()))
        sock_fd = self.sock.fileno()
        while True:
            timeout = -1.0
            if self.waiting:
                timeout = max(0.0, self.waiting[0].stream_at - time.monotonic())
            for fd, _ in self.epoll.poll(timeout):
                if fd == sock_fd:
                    if not self.on_control():
                        return 0
                elif fd in self.pipes:
                    self.on_pipe(fd)
                elif fd in self.exits:
                    self.on_exit(self.exits[fd])
                elif fd == self.sigchld:
                    self.on_sigchld()
            if self.waiting:
                self.start_streaming(time.monotonic())
            while self.closing:
                os.close(self.closing.pop())

    def send(self, frame: Frame) -> None:
        self.sock.sendall(pack(frame))

    def on_control(self) -> bool:
        data = self.sock.recv(256 * 1024)
        if not data:
            return False
        for body in self.frames.feed(data):
            frame = decode_to_spawner(body)
            if isinstance(frame, Start):
                self.start(frame)
            elif isinstance(frame, Ack):
                self.on_ack(frame)
            elif isinstance(frame, Signal):
                self.on_signal(frame)
            elif isinstance(frame, Discard):
                self.on_discard(frame)
        return True

    # -- starting ----------------------------------------------------------------------

    def start(self, req: Start) -> None:
        try:
            pid, out_r, err_r = spawn(req, self.spares)
        except OSError as exc:
            self.send(StartFailed(id=req.id, message=exc.strerror or str(exc), errno=exc.errno))
            return
        except SpawnError as exc:
            self.send(StartFailed(id=req.id, message=exc.message, errno=exc.errno))
            return
        except ValueError as exc:  # a NUL byte or '=' where the kernel cannot take it
            self.send(StartFailed(id=req.id, message=f"cannot run the command: {exc}"))
            return
        try:
            pidfd = os.pidfd_open(pid) if self.use_pidfd else -1
        except OSError as exc:  # out of descriptors, say: never leave it unwatched
            _abandon(pid, (out_r, err_r))
            msg = f"cannot watch the started command: {exc.strerror}"
            self.send(StartFailed(id=req.id, message=msg, errno=exc.errno))
            return
        cmd = Command(req, pid, pidfd, {out_r: "stdout", err_r: "stderr"})
        self.commands[req.id] = cmd
        if pidfd >= 0:
            self.exits[pidfd] = cmd
            self.epoll.register(pidfd, select.EPOLLIN)
        for fd, stream in cmd.pipes.items():
            self.pipes[fd] = (cmd, stream)
            self.epoll.register(fd, select.EPOLLIN)
        self.waiting.append(cmd)
        self.send(Started(id=req.id, pid=pid))

    # -- output ------------------------------------------------------------------------

    def on_pipe(self, fd: int) -> None:
        cmd, stream = self.pipes[fd]
        try:
            data = os.read(fd, READ_BYTES)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.close_pipe(cmd, fd)
            return
        self.take(cmd, stream, data)

    def take(self, cmd: Command, stream: str, data: bytes) -> None:
        if cmd.discard:
            return
        if cmd.streaming:
            self.send(Output(id=cmd.id, stream=stream, data=data))
            cmd.unacked += len(data)
            if cmd.unacked >= WINDOW_BYTES and not cmd.paused:
                cmd.paused = True
                for pipe in cmd.pipes:
                    self.epoll.modify(pipe, 0)
            return
        cmd.buffers[stream] += data
        if sum(len(b) for b in cmd.buffers.values()) > INLINE_BYTES:
            self.stream(cmd)

    def start_streaming(self, now: float) -> None:
        while self.waiting and self.waiting[0].stream_at <= now:
            self.stream(self.waiting[0])

    def stream(self, cmd: Command) -> None:
        """From now on, send this command's output as it comes."""
        with contextlib.suppress(ValueError):
            self.waiting.remove(cmd)
        if cmd.streaming:
            return
        cmd.streaming = True
        for stream, buf in cmd.buffers.items():
            if buf:
                data = bytes(buf)
                buf.clear()
                self.take(cmd, stream, data)

    def on_ack(self, ack: Ack) -> None:
        cmd = self.commands.get(ack.id)
        if cmd is None:
            return
        cmd.unacked = max(0, cmd.unacked - ack.size)
        if cmd.paused and cmd.unacked < WINDOW_BYTES:
            self.resume(cmd)

    def on_signal(self, req: Signal) -> None:
        cmd = self.commands.get(req.id)
        if cmd is None:  # reaped: nothing of it is left to signal
            return
        kill_group(cmd.pid, req.signal)

    def on_discard(self, req: Discard) -> None:
        cmd = self.commands.get(req.id)
        if cmd is None:
            return
        cmd.discard = True
        for buf in cmd.buffers.values():
            buf.clear()
        if cmd.paused:
            self.resume(cmd)

    def resume(self, cmd: Command) -> None:
        cmd.paused = False
        for pipe in cmd.pipes:
            self.epoll.modify(pipe, select.EPOLLIN)

    def close_pipe(self, cmd: Command, fd: int) -> None:
        del self.pipes[fd]
        del cmd.pipes[fd]
        self.epoll.unregister(fd)
        self.closing.append(fd)

    # -- exit --------------------------------------------------------------------------

    def on_exit(self, cmd: Command) -> None:
        """The leader exited: end its group, take what is left in the pipes, reap."""
        if cmd.pidfd >= 0:
            del self.exits[cmd.pidfd]
            self.epoll.unregister(cmd.pidfd)
            self.closing.append(cmd.pidfd)
        # The leader is a zombie until reaped, so the group id is still ours to signal.
        kill_group(cmd.pid, signal.SIGKILL)
        for fd, stream in list(cmd.pipes.items()):
            self.drain(cmd, fd, stream)
        try:
            _, status, usage = os.wait4(cmd.pid, 0)
            code: int | None = os.waitstatus_to_exitcode(status)
            cpu = usage.ru_utime + usage.ru_stime
            rss = usage.ru_maxrss * 1024
        except ChildProcessError:
            code, cpu, rss = None, 0.0, 0
        removed = cmd.remove_work_dir and self.spares.put(
            cmd.work_dir, cmd.spare_dir, cmd.input_file
        )
        with contextlib.suppress(ValueError):
            self.waiting.remove(cmd)
        del self.commands[cmd.id]
        out, err = cmd.buffers["stdout"], cmd.buffers["stderr"]
        self.send(
            Exited(
                id=cmd.id,
                returncode=code,
                cpu_s=cpu,
                peak_rss_bytes=rss,
                stdout=bytes(out),
                stderr=bytes(err),
                work_dir_removed=removed,
            )
        )

    def on_sigchld(self) -> None:
        """Without pidfds: some child changed state; find the leaders that exited
        (``WNOWAIT`` leaves them zombies, so their group ids stay ours)."""
        with contextlib.suppress(OSError):
            while os.read(self.sigchld, 4096):
                pass
        for cmd in list(self.commands.values()):
            try:
                info = os.waitid(os.P_PID, cmd.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                info = None
            if info is not None:
                self.on_exit(cmd)

    def drain(self, cmd: Command, fd: int, stream: str) -> None:
        """Read what the pipe holds now; its writers are dead or escaped the group, so
        this is bounded by the pipe's size. Kept for ``Exited`` unless discarded."""
        buf = cmd.buffers[stream]
        while True:
            try:
                data = os.read(fd, READ_BYTES)
            except OSError:
                break
            if not data:
                break
            if not cmd.discard:
                buf += data
        self.close_pipe(cmd, fd)


# -- watching --------------------------------------------------------------------------


def _pidfds_work() -> bool:
    try:
        os.close(os.pidfd_open(os.getpid()))
    except (AttributeError, OSError):
        return False
    return True


def _ignore_signal(signum: int, frame: object) -> None:
    """SIGCHLD's handler: the wake-up fd does the work."""


def _abandon(pid: int, fds: tuple[int, ...]) -> None:
    """Kill and reap a command that cannot be supervised."""
    kill_group(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
    for fd in fds:
        os.close(fd)


# -- entry point -----------------------------------------------------------------------


def serve(fd: int) -> int:
    """The spawner's life on its control socket ``fd``: 0 once the daemon closed it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's ^C is the daemon's
    sock = socket.socket(fileno=fd)
    sock.set_inheritable(False)
    try:
        return Server(sock).serve()
    except ProtocolError as exc:
        print(f"seqd spawner: {exc}", file=sys.stderr)
        return EXIT_SOFTWARE


def main(argv: list[str] | None = None) -> None:
    # ConnectionError, EOFError: the daemon went away.
    run_helper("seqd.runtime.spawner", serve, (ConnectionError, EOFError), argv)
