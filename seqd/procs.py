"""Spawning and ending process groups from the event loop, in the daemon itself.

Shell tasks (and tools that run commands) go through the spawner process instead
(``seqd.spawner``, decision 21), which shares ``ExitStatus`` and ``SpawnError`` with
this module. What is here starts a command from the daemon directly:
``subprocess.Popen`` (the stdlib's vfork path — uvloop's own spawn forks and gets
several times slower once the daemon is large) in a new session, so the command and
everything it starts share one process group that can be signalled as a whole.

Exit is awaited without polling: a pidfd (``os.pidfd_open``) registered with the loop
becomes readable when the leader exits; where pidfds are unavailable a thread blocks in
``waitid(WNOWAIT)``. Either way the leader is left a zombie until we reap it, which keeps
its pid — and so the process group id — from being reused while we still signal it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence

import msgspec

logger = logging.getLogger(__name__)

Redirect = str | int | None
"""Where a standard stream goes: a path (opened ``O_APPEND``, created ``0600``), an
open descriptor (inherited by the child; the caller keeps ownership), or None for
``/dev/null``."""


class SpawnError(Exception):
    """The command could not be started; ``errno`` says why (``ENOENT``, ``EACCES``...)."""

    def __init__(self, message: str, errno: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errno = errno


class ExitStatus(msgspec.Struct, frozen=True, kw_only=True):
    """How a process ended and what it cost (from ``wait4``)."""

    pid: int
    returncode: int | None
    """Exit status; ``-N`` when killed by signal N; None if someone else reaped it."""
    cpu_s: float = 0.0
    """User + system CPU seconds of the process and the children it waited for."""
    peak_rss_bytes: int = 0

    @property
    def signal_name(self) -> str | None:
        if self.returncode is None or self.returncode >= 0:
            return None
        try:
            return signal.Signals(-self.returncode).name
        except ValueError:
            return f"signal {-self.returncode}"


def _open_redirect(target: Redirect, write: bool, owned: list[int]) -> int:
    if target is None:
        fd = os.open(os.devnull, (os.O_WRONLY if write else os.O_RDONLY) | os.O_CLOEXEC)
        owned.append(fd)
        return fd
    if isinstance(target, int):
        return target
    flags = (os.O_WRONLY | os.O_CREAT | os.O_APPEND) if write else os.O_RDONLY
    fd = os.open(target, flags | os.O_CLOEXEC, 0o600)
    owned.append(fd)
    return fd


def _describe(exc: OSError, argv: Sequence[str], cwd: str | None) -> str:
    what = exc.filename if exc.filename is not None else argv[0]
    if cwd is not None and what == cwd:
        return f"cannot change to directory {cwd!r}: {exc.strerror}"
    return f"cannot run {argv[0]!r}: {exc.strerror or exc}"


def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    stdin: Redirect = None,
    stdout: Redirect = None,
    stderr: Redirect = None,
    pass_fds: Sequence[int] = (),
    kill_group_on_exit: bool = True,
) -> Process:
    """Start ``argv`` as the leader of a new session (pgid == pid).

    ``env`` None inherits the daemon's environment — callers running user commands
    should pass a clean one. ``kill_group_on_exit``: once the leader exits, SIGKILL
    whatever is left of its group (systemd's ``KillMode=control-group``), so a run
    never leaves processes behind. Must be called with a running loop. Raises
    ``SpawnError`` if the command cannot start, ``ValueError`` for a NUL in argv/env.
    """
    loop = asyncio.get_running_loop()
    popen = _start(argv, env, cwd, stdin, stdout, stderr, pass_fds)
    return Process(popen, loop, kill_group_on_exit)


async def spawn_async(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    stdin: Redirect = None,
    stdout: Redirect = None,
    stderr: Redirect = None,
    kill_group_on_exit: bool = True,
) -> Process:
    """``spawn`` with the fork/exec in a worker thread: ``Popen`` returns only once
    the child has exec'd, which on a busy machine holds the caller for milliseconds —
    time the event loop should spend serving others. Not for processes that rely on
    a parent-death signal (that signal follows the spawning thread)."""
    loop = asyncio.get_running_loop()
    starting = loop.run_in_executor(None, _start, argv, env, cwd, stdin, stdout, stderr, ())
    try:
        popen = await asyncio.shield(starting)
    except asyncio.CancelledError:
        # Cancelled mid-spawn: the child may exist already; never leave it behind.
        try:
            popen = await starting
        except (SpawnError, ValueError):
            raise asyncio.CancelledError from None
        orphan = Process(popen, loop, kill_group_on_exit)
        orphan.signal_group(signal.SIGKILL)
        await orphan.wait()
        raise
    return Process(popen, loop, kill_group_on_exit)


def _start(
    argv: Sequence[str],
    env: Mapping[str, str] | None,
    cwd: str | None,
    stdin: Redirect,
    stdout: Redirect,
    stderr: Redirect,
    pass_fds: Sequence[int],
) -> subprocess.Popen[bytes]:
    if not argv:
        raise SpawnError("empty command")
    owned: list[int] = []
    try:
        fds = (
            _open_redirect(stdin, False, owned),
            _open_redirect(stdout, True, owned),
            _open_redirect(stderr, True, owned),
        )
        popen = subprocess.Popen(  # vfork + exec: returns as soon as exec succeeded
            list(argv),
            stdin=fds[0],
            stdout=fds[1],
            stderr=fds[2],
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
            pass_fds=tuple(pass_fds),
        )
    except OSError as exc:
        raise SpawnError(_describe(exc, argv, cwd), exc.errno) from None
    finally:
        for fd in owned:
            os.close(fd)
    return popen


class Process:
    """A spawned process-group leader. ``wait`` and ``terminate`` are cancel-safe and
    may be called more than once; the exit status is cached after the reap."""

    def __init__(
        self, popen: subprocess.Popen[bytes], loop: asyncio.AbstractEventLoop, kill_group: bool
    ) -> None:
        self._popen = popen
        self._loop = loop
        self._kill_group = kill_group
        self.pid: int = popen.pid
        self.pgid: int = popen.pid
        self._exited = asyncio.Event()
        self._status: ExitStatus | None = None
        self._pidfd = -1
        self._arm()

    # -- exit notification ---------------------------------------------------------

    def _arm(self) -> None:
        try:
            self._pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError) as exc:
            logger.debug("pidfd_open unavailable (%s); waiting in a thread", exc)
            _wait_in_thread(self._loop, self.pid, self._exited)
            return
        self._loop.add_reader(self._pidfd, self._on_pidfd)

    def _on_pidfd(self) -> None:
        self._close_pidfd()
        self._exited.set()

    def _close_pidfd(self) -> None:
        if self._pidfd >= 0:
            fd, self._pidfd = self._pidfd, -1
            self._loop.remove_reader(fd)
            os.close(fd)

    # -- public --------------------------------------------------------------------

    @property
    def status(self) -> ExitStatus | None:
        """The exit status once reaped, else None."""
        return self._status

    @property
    def exited(self) -> bool:
        """The leader has exited (it may not be reaped yet)."""
        return self._exited.is_set()

    async def wait(self) -> ExitStatus:
        """Wait for the leader to exit, clear out its group if asked, reap it."""
        if self._status is not None:
            return self._status
        await self._exited.wait()
        return self._status or await self._reap()

    def signal_group(self, sig: int) -> bool:
        """Send ``sig`` to the whole group; False if nothing is left to signal."""
        if self._status is not None:  # reaped: the pgid may belong to someone else now
            return False
        try:
            os.killpg(self.pgid, sig)
        except ProcessLookupError:
            return False
        except PermissionError:
            logger.warning("not allowed to signal process group %d", self.pgid)
            return False
        return True

    async def terminate(self, grace_s: float) -> ExitStatus:
        """SIGTERM the group (SIGCONT too, so stopped members see it), give the leader
        ``grace_s`` to exit, then SIGKILL the group and reap. Cancelled during the
        grace, it SIGKILLs at once and re-raises (``wait`` reaps later)."""
        if self._status is None:
            self.signal_group(signal.SIGTERM)
            self.signal_group(signal.SIGCONT)
            if not self._exited.is_set() and grace_s > 0:
                try:
                    await asyncio.wait_for(self._exited.wait(), grace_s)
                except TimeoutError:
                    pass
                except asyncio.CancelledError:
                    self.signal_group(signal.SIGKILL)
                    raise
            self.signal_group(signal.SIGKILL)
        return await self.wait()

    def close(self) -> None:
        """Abandon the process: stop watching for its exit and leave it running (e.g. a
        command meant to outlive the daemon). ``wait`` must not be called afterwards."""
        self._close_pidfd()

    # -- reaping -------------------------------------------------------------------

    async def _reap(self) -> ExitStatus:
        """Kill what is left of the group (the zombie leader still holds the pgid), then
        collect the leader's status. Idempotent: a concurrent waiter gets the same."""
        if self._kill_group:
            self.signal_group(signal.SIGKILL)
        try:
            pid, status, rusage = os.wait4(self.pid, os.WNOHANG)  # noqa: ASYNC222 - no block
            if pid == 0:  # not expected after the exit notification; never spin on it
                pid, status, rusage = await asyncio.to_thread(os.wait4, self.pid, 0)
        except ChildProcessError:
            if self._status is not None:  # a concurrent waiter reaped it meanwhile
                return self._status
            logger.warning("process %d was reaped by someone else", self.pid)
            self._status = ExitStatus(pid=self.pid, returncode=None)
        else:
            code = os.waitstatus_to_exitcode(status)
            self._status = ExitStatus(
                pid=self.pid,
                returncode=code,
                cpu_s=rusage.ru_utime + rusage.ru_stime,
                peak_rss_bytes=rusage.ru_maxrss * 1024,
            )
        # Tell Popen the child is gone, so its __del__ never waitpid()s a reused pid.
        self._popen.returncode = (
            self._status.returncode if self._status.returncode is not None else -1
        )
        self._close_pidfd()
        return self._status


def _wait_in_thread(loop: asyncio.AbstractEventLoop, pid: int, done: asyncio.Event) -> None:
    """Fallback when pidfds are missing: block in ``waitid(WNOWAIT)`` — it reports the
    exit without reaping, so the pid stays reserved until ``Process._reap``."""

    def target() -> None:
        try:
            while True:
                try:
                    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
                    break
                except InterruptedError:
                    continue
        except ChildProcessError:
            pass
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            loop.call_soon_threadsafe(done.set)

    threading.Thread(target=target, name=f"wait-{pid}", daemon=True).start()
