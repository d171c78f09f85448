"""How a process ended, why a command could not start, and ending a process group:
shared by the spawner (``seqd.runtime.spawner``), the python workers' pool
(``seqd.runtime.workerpool``) and those who run commands (the shell task type,
``shell.exec``).

Its own module because every one of them says these things the same way; it imports
only msgspec and the standard library, so the spawner process can import it too.
"""

from __future__ import annotations

import contextlib
import os
import signal
from typing import Any

import msgspec


class SpawnError(Exception):
    """The command could not be started; ``errno`` says why (``ENOENT``, ``EACCES``...)."""

    def __init__(self, message: str, errno: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errno = errno


class SpawnerCrashed(Exception):
    """The spawner process died while the command ran (or before it started)."""

    def __init__(self, message: str, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


def _named(signum: int) -> str | None:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return None


def signal_name(returncode: int | None) -> str | None:
    """The signal that ended a process (``SIGKILL``; ``signal N`` for one without a
    name), from a ``subprocess``-style return code; None if it exited by itself."""
    if returncode is None or returncode >= 0:
        return None
    return _named(-returncode) or f"signal {-returncode}"


def describe_exit(returncode: int | None) -> str:
    """``exit code N``, ``signal SIGKILL`` (``signal N``), or ``unknown status``."""
    if returncode is None:
        return "unknown status"
    if returncode < 0:
        return f"signal {_named(-returncode) or -returncode}"
    return f"exit code {returncode}"


def kill_group(pgid: int, sig: int) -> None:
    """Signal a process group, if it is still there (and still ours)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


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
        return signal_name(self.returncode)
