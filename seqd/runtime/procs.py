"""How a started command ended, and why one could not start: shared by the spawner
(``seqd.runtime.spawner``) and those who run commands through it (the shell task type,
``shell.exec``)."""

from __future__ import annotations

import signal

import msgspec


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
