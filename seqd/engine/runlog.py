"""The log of a run being executed: lines batched per event-loop turn and appended to
storage in order, one write in flight per run; the per-run byte cap and the masking of
secret values are applied here, once for every task type.

Its own module because it is the one part of an execution that runs beside it (a
background flush), with its own outage handling, and a job only feeds it lines.
"""

from __future__ import annotations

import asyncio
import logging

from seqd.config.secrets import Secrets
from seqd.errors import StorageUnavailable
from seqd.model import timeutil
from seqd.model.runs import LogStream, NewLogLine
from seqd.plugins.storage import StorageBackend

logger = logging.getLogger(__name__)


class RunLog:
    """Ordered, capped, batched log writer for one run."""

    def __init__(
        self,
        storage: StorageBackend,
        run_id: str,
        cap_bytes: int,
        secrets: Secrets | None = None,
        written_bytes: int = 0,
    ) -> None:
        self.storage = storage
        self._secrets = secrets if secrets is not None else Secrets()
        """Masks secret values in each line before it is stored (a reload may add some)."""
        self.run_id = run_id
        self.cap_bytes = cap_bytes
        self.written_bytes = written_bytes
        """Counted against the cap: the run's earlier executions' too (``logged_bytes``)."""
        self.full = False
        self.dropped = 0
        self._buffer: list[NewLogLine] = []
        self.pending_bytes = 0
        self._flushing: asyncio.Task[None] | None = None
        self._abandoned = False

    def add(self, stream: LogStream, text: str) -> None:
        if self.full:
            self.dropped += 1
            return
        if self._secrets.active:
            text = self._secrets.redact(text)
        size = line_bytes(text)
        if self.written_bytes + size > self.cap_bytes:
            self.full = True
            self.dropped += 1
            self.system(f"log cap of {self.cap_bytes} bytes reached; further output is dropped")
            return
        self.written_bytes += size
        self.pending_bytes += len(text) + 1
        self._buffer.append(NewLogLine(ts=timeutil.now(), stream=stream, text=text))
        if self._flushing is None:
            self._flushing = asyncio.ensure_future(self._flush_loop())

    def system(self, text: str) -> None:
        """A line from the daemon itself; not counted against the cap."""
        if self._abandoned:
            return
        if self._secrets.active:
            text = self._secrets.redact(text)
        self._buffer.append(NewLogLine(ts=timeutil.now(), stream="system", text=text))
        self.pending_bytes += len(text) + 1
        if self._flushing is None:
            self._flushing = asyncio.ensure_future(self._flush_loop())

    async def _flush_loop(self) -> None:
        try:
            await asyncio.sleep(0)  # gather what this loop turn produces
            delay = 0.1
            while self._buffer:
                batch, self._buffer = self._buffer, []
                try:
                    await self.storage.append_logs(self.run_id, batch)
                    self.pending_bytes -= sum(len(line.text) + 1 for line in batch)
                    delay = 0.1
                except StorageUnavailable as exc:
                    # Keep the lines (the cap bounds them) and try again: an outage
                    # delays the log, it does not lose it.
                    logger.warning("run %s: log lines wait for storage: %s", self.run_id, exc)
                    self._buffer = batch + self._buffer
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
                except Exception:
                    logger.exception(
                        "could not store %d log lines of run %s", len(batch), self.run_id
                    )
        finally:
            self._flushing = None

    def abandon(self) -> int:
        """Stop trying to store what is buffered (a shutdown that cannot wait for an
        outage to end); further lines are dropped. Returns how many lines were lost."""
        self.full = self._abandoned = True
        lost = len(self._buffer)
        self._buffer = []
        self.pending_bytes = 0
        if self._flushing is not None:
            self._flushing.cancel()
        return lost

    async def flush(self) -> None:
        while self._flushing is not None:
            try:
                await asyncio.shield(self._flushing)
            except asyncio.CancelledError:
                if self._flushing is not None and not self._flushing.cancelled():
                    raise  # we were cancelled, not the flush (``abandon``)
                return
        if self._buffer:
            self._flushing = asyncio.ensure_future(self._flush_loop())
            await asyncio.shield(self._flushing)


def line_bytes(text: str) -> int:
    """What a line counts against the cap: its UTF-8 bytes and its line end."""
    return len(text.encode("utf-8", "replace")) + 1


async def logged_bytes(storage: StorageBackend, run_id: str) -> int:
    """What the run's stored log already counts against the cap (its ``system`` lines
    do not count): the cap is per run, across its attempts, resumptions and
    restarts, and storage is what outlives them all."""
    total = after = 0
    while lines := await storage.read_logs(run_id, after, 1000):
        total += sum(line_bytes(line.text) for line in lines if line.stream != "system")
        after = lines[-1].seq
    return total
