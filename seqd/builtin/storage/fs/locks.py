"""Per-name asyncio locks of the file store, on the loop.

``KeyedLocks`` serializes the writes to one run (and the claims of one idempotency key)
without keeping a lock object per run alive: an entry exists only while someone holds
or awaits it. (The store's own lock file, ``<root>/lock``, which makes one process its
writer, is ``seqd.plugins.storage_kit.lockfile``'s.)
"""

from __future__ import annotations

import asyncio
import logging
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
