"""``seqd export`` / ``seqd import``: the whole store as JSON Lines.

One format for backups and for moving between backends (the records, in their order:
``transfer_format``). Export ends the file with a trailer that counts what it holds
and checksums it; import checks the file as it reads it (``transfer_check``) and
writes each run with its log and journal in one transaction (``import_run``), so a
run is in the target whole or not at all. Runs already there (same id, or same
idempotency key) are skipped, so an interrupted import can simply be run again. A
file that does not add up is refused before anything is written when it is checked
first (``verify``; ``seqd import`` always does), and in any case before its last run.

Then come ``kv`` records: the key-value state of the ``kv.*`` tools, a namespace at a
time. Import writes a key only where the target has none, so re-running an import
never overwrites newer values; an imported key's ``updated_at`` is the import's time.
Last come ``schedule`` records: each schedule with its cursor, so a store moved to
another backend fires on where it left off. Import writes a schedule only where the
target has none of that name.

Both directions take the file as async calls (``seqd export``/``import`` give them
``aiofiles``): records are gathered into writes of about ``WRITE_BYTES``, and lines are
cut from reads of ``READ_BYTES``, so a store of any size moves in few thread hops and
never with blocking file I/O on the event loop.

A run keeps its idempotency scope; a keyed run exported before scopes existed gets the
one the stores' migrations give it (``seqd.model.scopes.legacy_scope``).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable

import msgspec

from seqd.errors import Conflict
from seqd.model import timeutil
from seqd.model.runs import NewLogLine, Run, RunQuery, Step
from seqd.model.scopes import legacy_scope
from seqd.plugins.storage import StorageBackend
from seqd.storage.transfer_check import Checker
from seqd.storage.transfer_format import (
    ENCODER,
    Header,
    KVRecord,
    LogsRecord,
    Record,
    RunRecord,
    ScheduleRecord,
    StepsRecord,
    Tally,
    Trailer,
    TransferError,
)

__all__ = [
    "READ_BYTES",
    "Counts",
    "TransferError",
    "export_store",
    "import_store",
    "read_lines",
    "verify",
]

KV_CHUNK = 500
PAGE = 500
LOG_CHUNK = 1000
STEP_CHUNK = 1000
WRITE_BYTES = 1 << 18
READ_BYTES = 1 << 18


class Counts(Tally, kw_only=True):
    """What an export wrote or an import imported; ``skipped``: runs already there."""

    skipped: int = 0


class _Out:
    """Records, encoded one a line, gathered into writes of about ``WRITE_BYTES``."""

    def __init__(self, write: Callable[[bytes], Awaitable[object]]) -> None:
        self._write = write
        self._buf = bytearray()
        self.sha = hashlib.sha256()
        """Of every byte written (the trailer's checksum)."""

    async def add(self, record: Record) -> None:
        ENCODER.encode_into(record, self._buf, -1)
        self._buf += b"\n"
        if len(self._buf) >= WRITE_BYTES:
            await self.flush()

    async def flush(self) -> None:
        if self._buf:
            data = bytes(self._buf)
            self._buf.clear()
            self.sha.update(data)
            await self._write(data)


async def read_lines(read: Callable[[int], Awaitable[bytes]]) -> AsyncIterator[bytes]:
    """The lines of a byte stream, cut from reads of ``READ_BYTES`` (``read(n)`` returns
    ``b""`` at its end), without their line ends."""
    buf = bytearray()
    while chunk := await read(READ_BYTES):
        buf += chunk
        end = buf.rfind(b"\n")
        if end < 0:
            continue
        block = bytes(buf[:end])
        del buf[: end + 1]
        for line in block.split(b"\n"):
            yield line
    if buf:
        yield bytes(buf)


async def _all_runs(store: StorageBackend) -> AsyncIterator[Run]:
    cursor: str | None = None
    while True:
        page = await store.list_runs(RunQuery(limit=PAGE, cursor=cursor))
        for run in page.runs:
            yield run
        if not page.next_cursor or not page.runs:
            return
        cursor = page.next_cursor


async def export_store(
    store: StorageBackend, write: Callable[[bytes], Awaitable[object]]
) -> Counts:
    counts = Counts()
    out = _Out(write)
    await out.add(Header(exported_at=timeutil.now(), source=f"{store.name} {store.location}"))
    async for run in _all_runs(store):
        await out.add(RunRecord(run=run))
        counts.runs += 1
        after = 0
        while True:
            lines = await store.read_logs(run.id, after, LOG_CHUNK)
            if not lines:
                break
            await out.add(LogsRecord(run_id=run.id, lines=lines))
            counts.log_lines += len(lines)
            after = lines[-1].seq
        after = 0
        while steps := await store.read_steps(run.id, after, STEP_CHUNK):
            await out.add(StepsRecord(run_id=run.id, steps=steps))
            counts.steps += len(steps)
            after = steps[-1].seq
    for namespace in await store.kv_namespaces():
        last: str | None = None
        while entries := await store.kv_list(namespace, after=last, limit=KV_CHUNK):
            await out.add(KVRecord(namespace=namespace, entries=entries))
            counts.kv_keys += len(entries)
            last = entries[-1].key
    for schedule in await store.list_schedules():
        await out.add(ScheduleRecord(schedule=schedule))
        counts.schedules += 1
    await out.flush()
    tally = Tally(**{f: getattr(counts, f) for f in Tally.__struct_fields__})
    await out.add(Trailer(counts=tally, sha256=out.sha.hexdigest()))
    await out.flush()
    return counts


def _scoped(run: Run) -> Run:
    if run.idempotency_key is None or run.idempotency_scope is not None:
        return run
    scope = legacy_scope(run.idempotency_key, run.parent_id, run.submitted_by)
    return msgspec.structs.replace(run, idempotency_scope=scope)


class _Pending:
    """A run read from the file with its log and journal, until it is written whole."""

    def __init__(self, run: Run) -> None:
        self.run = _scoped(run)
        self.logs: list[NewLogLine] = []
        self.steps: list[Step] = []

    def add(self, record: LogsRecord | StepsRecord) -> None:
        if isinstance(record, LogsRecord):
            self.logs += [
                NewLogLine(ts=ln.ts, stream=ln.stream, text=ln.text) for ln in record.lines
            ]
        else:
            self.steps += record.steps  # a Step is a NewStep: the target numbers them

    async def write(self, store: StorageBackend, counts: Counts) -> None:
        # A Conflict: the key is held by a run of another id (a store's own check).
        try:
            created = await store.import_run(self.run, self.logs, self.steps)
        except Conflict:
            created = False
        if created:
            counts.runs += 1
            counts.log_lines += len(self.logs)
            counts.steps += len(self.steps)
        else:
            counts.skipped += 1


async def verify(lines: AsyncIterable[bytes], allow_unverified: bool = False) -> Checker:
    """Read a whole file and check it (``transfer_check``), writing nothing; raises
    ``TransferError`` saying what does not add up."""
    check = Checker(allow_unverified)
    async for raw in lines:
        check.feed(raw)
    check.finish()
    return check


async def import_store(
    store: StorageBackend, lines: AsyncIterable[bytes], allow_unverified: bool = False
) -> Counts:
    """Import a file into ``store``, checking it as it goes. Each run is written when
    the next record shows it complete; the last one only once the trailer has been
    checked. What does not add up raises ``TransferError``: before anything is written
    when it is in the header, else after the runs before it (``verify`` first to
    refuse such a file whole)."""
    check = Checker(allow_unverified)
    counts = Counts()
    pending: _Pending | None = None
    async for raw in lines:
        record = check.feed(raw)
        if record is None or isinstance(record, Header):
            continue
        if isinstance(record, (LogsRecord, StepsRecord)):
            assert pending is not None  # the checker keeps them after their run
            pending.add(record)
            continue
        if pending is not None:
            await pending.write(store, counts)
            pending = None
        if isinstance(record, RunRecord):
            pending = _Pending(record.run)
        elif isinstance(record, KVRecord):
            for entry in record.entries:
                if await store.kv_get(record.namespace, entry.key) is None:
                    await store.kv_set(record.namespace, entry.key, entry.value)
                    counts.kv_keys += 1
        elif (
            isinstance(record, ScheduleRecord)
            and await store.get_schedule(record.schedule.name) is None
        ):
            await store.save_schedule(record.schedule)
            counts.schedules += 1
    check.finish()
    if pending is not None:
        await pending.write(store, counts)
    return counts
