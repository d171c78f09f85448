"""The file store's writer: one thread that runs every write, in batches.

Writes from the event loop become *ops* (functions of a ``Batch``) queued here. The
thread takes everything queued, runs the ops one after another (each either applies
whole or raises), then — in ``full`` durability — fsyncs each directory the batch
touched once, and only then wakes the loop with one ``call_soon_threadsafe`` for the
whole batch (``BatchWriter`` of ``seqd.plugins.storage_kit`` does the threading). A
burst of writes pays for one wake-up and one fsync per directory instead of one each.

An op that fails fails only its own future. If a directory fsync fails, the ops of the
batch did happen (the files were renamed) but may not survive a power loss: their
futures fail with ``NotDurable``, which carries the op's value so the caller can keep
its in-memory view in step with the disk.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from seqd.builtin.storage.fs.files import LABEL, Batch, fsync_dir
from seqd.errors import StorageUnavailable
from seqd.plugins.storage_kit.batch_writer import BatchWriter, Item, Outcome

logger = logging.getLogger(__name__)


MAX_BATCH = 1024


class NotDurable(StorageUnavailable):
    """The op happened, but syncing it to disk failed; ``value`` is what it returned."""

    def __init__(self, message: str, details: dict[str, Any], value: Any) -> None:
        super().__init__(message, details)
        self.value = value


class FileWriter(BatchWriter[None]):
    """Owns the writing thread; ``submit`` from the event loop, ``close`` to flush."""

    label = LABEL

    def __init__(
        self,
        location: str,
        durable: bool,
        on_os_error: Callable[[OSError], StorageUnavailable],
        max_batch: int = MAX_BATCH,
    ) -> None:
        super().__init__(location, max_batch)
        self.durable = durable
        self._on_os_error = on_os_error

    def _open(self) -> None:
        return None

    def _execute(self, resource: None, items: list[Item]) -> None:
        batch = Batch(self.durable)
        outcomes: list[Outcome] = []
        for op, fut in items:
            try:
                outcomes.append((fut, op(batch), True))
            except OSError as exc:
                outcomes.append((fut, self._on_os_error(exc), False))
            except Exception as exc:
                logger.exception("file storage write failed on %s", self.location)
                outcomes.append((fut, exc, False))
        for directory in sorted(batch.dirs):
            try:
                fsync_dir(directory)
            except OSError as exc:
                error = self._on_os_error(exc)
                logger.warning("file storage could not sync %s: %s", directory, exc)
                outcomes = [
                    (fut, NotDurable(error.message, error.details, value), False) if ok else
                    (fut, value, ok)
                    for fut, value, ok in outcomes
                ]  # fmt: skip
                break
        self._deliver(outcomes)
