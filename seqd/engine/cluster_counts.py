"""Run counts by status for the whole cluster, when the store is shared.

A single daemon counts its runs as they change (``seqd.observe.runs``): it writes every
one of them. On a shared store the other nodes write too, so those counts drift from
the first foreign write on. ``daemon.status`` then asks the store, which counts what
every node wrote; the answer is kept for ``max_age_s`` and callers asking meanwhile
(``seqctl top`` every second, several watchers) share one read, so the store counts at
most once per interval whoever asks. If the store cannot answer, the node's own counts
stand in: a status must still come during an outage.

Its own module because it is the one place where the engine's counts are not its own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from seqd.errors import SeqdError
from seqd.plugins.storage import StorageBackend

logger = logging.getLogger(__name__)

MAX_AGE_S = 1.0
"""How long an answer of the store stands for every caller."""


class ClusterCounts:
    """``current()``: the stored runs by status, as of a read at most ``max_age_s`` old."""

    def __init__(
        self,
        storage: StorageBackend,
        local: Callable[[], dict[str, int]],
        max_age_s: float = MAX_AGE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.storage = storage
        self.local = local
        """This node's own counts, for when the store does not answer."""
        self.max_age_s = max_age_s
        self._clock = clock
        self._counts: dict[str, int] | None = None
        self._read_at = 0.0
        self._reading: asyncio.Future[dict[str, int]] | None = None

    async def current(self) -> dict[str, int]:
        if self._counts is not None and self._clock() - self._read_at < self.max_age_s:
            return self._counts
        if self._reading is None:
            self._reading = asyncio.ensure_future(self._read())
        reading = self._reading
        try:
            return await asyncio.shield(reading)
        finally:
            if reading.done() and self._reading is reading:
                self._reading = None

    async def _read(self) -> dict[str, int]:
        started = self._clock()
        try:
            counts = await self.storage.count_by_status()
        except SeqdError as exc:
            logger.debug("cluster run counts unavailable (this node's own shown): %s", exc)
            return dict(self.local())
        self._counts, self._read_at = counts, started
        return counts
