"""An LRU cache in front of the store's key-value state (the ``kv.*`` tools).

Reads are served from memory when the key was read or written lately, misses included
(a key known to be absent costs no query either). It stays correct after writes: a
write goes to storage first and then replaces the cached entry, and a read that was in
flight while a write to the same key happened does not put its (older) answer in the
cache — each key has a generation, bumped by every write, checked before filling.

One node only: with several nodes on one PostgreSQL store, another node's writes are
not seen until the entry leaves this cache (``tools.kv_cache_entries = 0`` turns it off).
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from typing import Any

from seqd.model.runs import KVEntry
from seqd.plugins.storage import StorageBackend

_MISSING = object()


class KVCache:
    """Implements ``seqd.plugins.tools.KVStore`` over a ``StorageBackend``."""

    def __init__(self, storage: StorageBackend, max_entries: int) -> None:
        self.storage = storage
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str], KVEntry | None] = OrderedDict()
        self._generation: dict[tuple[str, str], int] = {}
        self._counter = itertools.count(1)
        self.hits = 0
        self.misses = 0

    def _remember(self, slot: tuple[str, str], entry: KVEntry | None) -> None:
        if self.max_entries <= 0:
            return
        self._entries[slot] = entry
        self._entries.move_to_end(slot)
        while len(self._entries) > self.max_entries:
            old, _ = self._entries.popitem(last=False)
            self._generation.pop(old, None)

    def _bump(self, slot: tuple[str, str]) -> None:
        # From one counter for all keys: a generation is never reused, even for a key
        # whose record was evicted in between.
        self._generation[slot] = next(self._counter)

    async def get(self, namespace: str, key: str) -> KVEntry | None:
        slot = (namespace, key)
        cached = self._entries.get(slot, _MISSING)
        if cached is not _MISSING:
            self.hits += 1
            self._entries.move_to_end(slot)
            return cached  # type: ignore[return-value]
        self.misses += 1
        generation = self._generation.get(slot, 0)
        entry = await self.storage.kv_get(namespace, key)
        if self._generation.get(slot, 0) == generation:
            self._remember(slot, entry)
        return entry

    async def set(self, namespace: str, key: str, value: Any) -> KVEntry:
        entry: KVEntry = await self._write(
            (namespace, key), self.storage.kv_set(namespace, key, value)
        )
        return entry

    async def delete(self, namespace: str, key: str) -> bool:
        existed: bool = await self._write((namespace, key), self.storage.kv_delete(namespace, key))
        return existed

    async def _write(self, slot: tuple[str, str], write: Any) -> Any:
        """Run ``write`` (a coroutine), then cache what the key now holds — unless
        another write to it started meanwhile (their order in storage decides; drop it).
        Bumping the generation before and after makes any read in flight across the
        write keep its answer out of the cache."""
        self._bump(slot)
        mine = self._generation[slot]
        self._entries.pop(slot, None)  # not served stale while the write is in flight
        try:
            result = await write
        finally:
            last = self._generation.get(slot, 0) == mine
            self._bump(slot)
        if last:
            self._remember(slot, result if isinstance(result, KVEntry) else None)
        else:
            self._entries.pop(slot, None)
        return result

    async def list(
        self, namespace: str, prefix: str = "", after: str | None = None, limit: int = 100
    ) -> list[KVEntry]:
        """Always from storage: a listing is not cached."""
        return await self.storage.kv_list(namespace, prefix, after, limit)

    def stats(self) -> dict[str, int]:
        return {"entries": len(self._entries), "hits": self.hits, "misses": self.misses}
