"""A small pool of threads for a backend's blocking reads.

Its own module because a backend on a blocking library (SQLite, plain files) reads off
the event loop the same way: a few threads started at ``open``, a read that finds the
pool not open or already shut down fails with ``StorageUnavailable`` rather than with
the executor's ``RuntimeError``, and ``close`` waits for the reads in progress without
blocking the loop. Writes go elsewhere (``batch_writer``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from seqd.errors import StorageUnavailable
from seqd.plugins.storage_kit.errors import not_open

T = TypeVar("T")


class ReaderPool:
    """``threads`` reader threads named ``thread_name``-N; ``label`` and ``location``
    name the store in errors (``file storage at /x is closed``)."""

    def __init__(self, threads: int, thread_name: str, label: str, location: str) -> None:
        self._threads = threads
        self._thread_name = thread_name
        self._label = label
        self._location = location
        self._pool: ThreadPoolExecutor | None = None
        self._closed = False

    @property
    def is_open(self) -> bool:
        return self._pool is not None

    def start(self) -> None:
        self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix=self._thread_name)

    def not_open(self) -> StorageUnavailable:
        """The error of a call that finds the store not open (or closed)."""
        return not_open(self._label, self._location, self._closed)

    def check(self) -> None:
        """Raise ``not_open()`` unless the pool is open."""
        if self._pool is None:
            raise self.not_open()

    def run(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """``fn(*args)`` on a reader thread; must be called on the event loop."""
        pool = self._pool
        if pool is None:
            raise self.not_open()
        try:
            return asyncio.get_running_loop().run_in_executor(pool, fn, *args)
        except RuntimeError as exc:  # the pool was shut down by close()
            self._closed = True
            raise self.not_open() from exc

    async def close(self) -> None:
        """Stop taking reads, and wait (in a thread) for those in progress."""
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, True)
