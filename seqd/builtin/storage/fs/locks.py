"""Locks of the file store: per-name asyncio locks on the loop, and the store's lock file.

``KeyedLocks`` serializes the writes to one run (and the claims of one idempotency key)
without keeping a lock object per run alive: an entry exists only while someone holds
or awaits it. ``lock_store`` takes an exclusive ``flock`` on ``<root>/lock``: the
in-memory index assumes one process writes the store, and only that process may repair
it. The kernel drops the lock when its process ends, however it ends.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

logger = logging.getLogger(__name__)


class _Held:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class KeyedLocks:
    """An asyncio lock per name, existing only while someone holds or awaits it."""

    def __init__(self) -> None:
        self._held: dict[str, _Held] = {}

    def __len__(self) -> int:
        return len(self._held)

    @asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[None]:
        held = self._held.get(name)
        if held is None:
            held = self._held[name] = _Held()
        held.users += 1
        try:
            async with held.lock:
                yield
        finally:
            held.users -= 1
            if not held.users:
                del self._held[name]


def lock_store(path: str) -> int | None:
    """Take the store's lock file (blocking call): the fd that holds it, or None when
    another process holds it."""
    # Held on a read-only descriptor: no file stays open for writing between writes,
    # so the file system can still be remounted read-only under a running daemon.
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with open(path, "w", encoding="ascii") as f:
            f.write(f"{os.getpid()}\n")
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


def lock_holder(path: str) -> str:
    """The pid the lock's holder wrote, for messages."""
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read(32).strip() or "unknown"
    except OSError:
        return "unknown"
