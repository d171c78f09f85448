"""The spawner process: starts commands, reads their output, reaps them.

Why a process of its own: a command started from the daemon costs the daemon's event
loop the whole spawn (``Popen`` holds the GIL while the vforked child execs), the file
work of the run and the thread hops around both. Here a small, clean interpreter does
that work on the other CPU and reports back over one socket, so the daemon's share of a
shell run is a few frames.

One thread, one ``epoll``: the control socket, each command's stdout/stderr pipes and
its pidfd (or, where pidfds are refused, a SIGCHLD wake-up pipe). Commands are started
with ``posix_spawn`` (vfork-like, in a new session) with exactly the environment they
are given. When a command's leader exits, what is left of
its process group is killed (the zombie leader still holds the group id), its output is
drained and it is reaped; ``Exited`` carries the status, the resource use and any
output not yet sent.

The spawner dies with the daemon: ``PR_SET_PDEATHSIG`` and EOF on the control socket.
Commands are not children it keeps alive: they outlive it, as they outlive the daemon,
and the daemon ends their groups itself.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import signal
import socket
import stat
import sys
import time

from seqd.runtime.lifeline import die_with_parent
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

READ_BYTES = 64 * 1024
STREAMS = ("stdout", "stderr")
RESTORED_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ)
"""Python ignores these at start-up, and ignored signals survive exec: give commands
the default actions back, as ``subprocess`` does (``yes | head`` needs SIGPIPE)."""


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
        except _StartError as exc:
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
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(cmd.pid, req.signal)

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
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(cmd.pid, signal.SIGKILL)
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


# -- spawning --------------------------------------------------------------------------


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
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
    for fd in fds:
        os.close(fd)


class _StartError(Exception):
    def __init__(self, message: str, errno: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.errno = errno


def spawn(req: Start, spares: SparePool) -> tuple[int, int, int]:
    """Prepare the work dir, start the command; returns (pid, stdout, stderr pipes)."""
    if not req.argv:
        raise _StartError("empty command", None)
    if req.work_dir is not None:
        try:
            spares.take(req.work_dir, req.spare_dir)
        except OSError as exc:
            raise _StartError(f"cannot create the work dir: {exc.strerror}", exc.errno) from None
        if req.input_file is not None:
            _write_file(os.path.join(req.work_dir, req.input_file), req.input)
    try:
        os.chdir(req.cwd)
    except OSError as exc:
        msg = f"cannot change to directory {req.cwd!r}: {exc.strerror}"
        raise _StartError(msg, exc.errno) from None
    stdin = os.devnull
    if req.stdin_from_input:
        if req.work_dir is None or req.input_file is None:
            raise _StartError("stdin_from_input needs a work_dir and an input_file", None)
        stdin = os.path.join(req.work_dir, req.input_file)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        actions: list[tuple[int | str, ...]] = [
            (os.POSIX_SPAWN_OPEN, 0, stdin, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, out_w, 1),
            (os.POSIX_SPAWN_DUP2, err_w, 2),
        ]
        pid = _spawn_on_path(req.argv, req.env, actions)
    except BaseException:
        os.close(out_r)
        os.close(err_r)
        raise
    finally:
        os.close(out_w)
        os.close(err_w)
    os.set_blocking(out_r, False)
    os.set_blocking(err_r, False)
    return pid, out_r, err_r


def _spawn_on_path(
    argv: list[str], env: dict[str, str], actions: list[tuple[int | str, ...]]
) -> int:
    """``posix_spawn`` the program, searched on the *command's* ``PATH`` when its name
    has no slash (as ``subprocess`` does); the first error other than "not there"
    wins, as with ``execvp``."""
    program = argv[0]
    if "/" in program:
        candidates = [program]
    else:
        candidates = [os.path.join(d, program) for d in os.get_exec_path(env)]
    first_error: OSError | None = None
    for path in candidates:
        if len(candidates) > 1 and not os.path.isfile(path):
            continue
        try:
            return os.posix_spawn(
                path,
                argv,
                env,
                file_actions=actions,
                setsid=True,
                setsigdef=RESTORED_SIGNALS,
            )
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ENOTDIR) and first_error is None:
                first_error = exc
    if first_error is not None:
        raise _StartError(f"cannot run {program!r}: {first_error.strerror}", first_error.errno)
    raise _StartError(f"cannot run {program!r}: {os.strerror(errno.ENOENT)}", errno.ENOENT)


def _write_file(path: str, data: bytes) -> None:
    """Write ``data`` over what the file held. Not ``O_TRUNC``: on ext4 a file cut to
    zero and written again is flushed to disk when closed (``auto_da_alloc``), and its
    freed blocks are discarded — costly per run when a spare's input file is reused."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)


class SparePool:
    """Emptied work dirs, kept to be renamed into place for later runs.

    On this project's machines a file or directory created and deleted per run costs
    hundreds of microseconds of kernel time (ext4 scans past recently freed inodes);
    two renames cost a few. A work dir holding only plain files goes to the spare dir
    with its input file kept (the next run writes over it; the same input is in the
    store beside it anyway) and every other file unlinked; one holding directories is
    left to the caller, which removes the whole tree. At most ``MAX_SPARES`` wait;
    past that, dirs are removed. Spares left by an earlier spawner are removed when
    this one first keeps one.
    """

    MAX_SPARES = 64

    def __init__(self) -> None:
        self._free: dict[str, list[str]] = {}
        self._made = 0

    def take(self, work_dir: str, spare_dir: str | None) -> None:
        """Put a private directory at ``work_dir``: a spare, else a new one."""
        free = self._free.get(spare_dir) if spare_dir is not None else None
        while free:
            spare = free.pop()
            try:
                os.rename(spare, work_dir)
                return
            except FileNotFoundError:
                continue  # removed behind our back: try the next one
            except OSError:
                _remove_tree_quietly(spare)
                break
        try:
            os.mkdir(work_dir, 0o700)
        except FileExistsError:
            pass
        except FileNotFoundError:  # the first run: the work root is not there yet
            os.makedirs(work_dir, 0o700, exist_ok=True)

    def put(self, work_dir: str | None, spare_dir: str | None, keep: str | None) -> bool:
        """Empty ``work_dir`` (but for ``keep``) and keep it as a spare, or remove it;
        False if it holds directories or went away — the caller then removes what is
        left."""
        if work_dir is None:
            return False
        free = self._free.setdefault(spare_dir, []) if spare_dir is not None else None
        try:
            # The command may have changed its work dir: only a plain private directory
            # of ours is emptied here (a symlink is never followed) or reused.
            if not _private(os.lstat(work_dir), stat.S_IFDIR, 0o700):
                return False
            spare = free is not None and len(free) < self.MAX_SPARES
            with os.scandir(work_dir) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        return False
                    if not (
                        spare
                        and entry.name == keep
                        and _private(entry.stat(follow_symlinks=False), stat.S_IFREG, 0o600)
                    ):
                        os.unlink(entry.path)
            if free is None or spare_dir is None or not spare:
                os.rmdir(work_dir)
                return True
            if not self._made:
                _remove_tree_quietly(spare_dir)
                os.makedirs(spare_dir, 0o700, exist_ok=True)
            self._made += 1
            target = os.path.join(spare_dir, str(self._made))
            os.rename(work_dir, target)
            free.append(target)
        except OSError:
            return False
        return True


def _private(st: os.stat_result, kind: int, mode: int) -> bool:
    """Of that kind, ours, with exactly that mode and one link: safe to reuse."""
    return (
        stat.S_IFMT(st.st_mode) == kind
        and stat.S_IMODE(st.st_mode) == mode
        and st.st_uid == os.getuid()
        and (kind == stat.S_IFDIR or st.st_nlink == 1)
    )


def _remove_tree_quietly(path: str | None) -> None:
    if path is not None:
        import shutil

        shutil.rmtree(path, ignore_errors=True)


# -- entry point -----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or not all(a.isdigit() for a in args):
        print("usage: python -m seqd.runtime.spawner FD PARENT_PID", file=sys.stderr)
        os._exit(2)
    fd, parent = int(args[0]), int(args[1])
    die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's ^C is the daemon's
    sock = socket.socket(fileno=fd)
    sock.set_inheritable(False)
    code = 0
    try:
        code = Server(sock).serve()
    except (ConnectionError, EOFError):
        code = 0  # the daemon went away
    except ProtocolError as exc:
        print(f"seqd spawner: {exc}", file=sys.stderr)
        code = 70
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 70
    finally:
        with contextlib.suppress(OSError):
            sys.stderr.flush()
    os._exit(code)
