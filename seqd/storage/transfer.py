"""``seqd export`` / ``seqd import``: the whole store as JSON Lines.

One format for backups and for moving between backends: a header line, then for each
run a ``run`` record followed by its log lines in ``logs`` records and its journal in
``steps`` records. Import is idempotent: runs already present (same id or same
idempotency key) are skipped with their logs and journals, so an interrupted import
can simply be run again.

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

Version 2 added ``steps`` records, version 3 ``kv`` records, version 4 ``schedule``
records. The header says which, so an older seqd refuses the whole file up front
instead of stopping at the first record it does not know after importing half of it;
versions 1 to 3 still import. A run keeps its idempotency scope; a keyed run exported
before scopes existed gets the one the stores' migrations give it
(``seqd.model.scopes.legacy_scope``).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable

import msgspec

from seqd import __version__
from seqd.errors import Conflict
from seqd.model import timeutil
from seqd.model.runs import KVEntry, LogLine, NewLogLine, Run, RunQuery, Step
from seqd.model.schedules import Schedule
from seqd.model.scopes import legacy_scope
from seqd.plugins.storage import StorageBackend

FORMAT = "seqd-export"
FORMAT_VERSION = 4
READABLE_VERSIONS = (1, 2, 3, 4)
KV_CHUNK = 500
PAGE = 500
LOG_CHUNK = 1000
STEP_CHUNK = 1000
WRITE_BYTES = 1 << 18
READ_BYTES = 1 << 18


class Header(msgspec.Struct, tag="header", kw_only=True):
    format: str = FORMAT
    version: int = FORMAT_VERSION
    seqd: str = __version__
    exported_at: str
    source: str


class RunRecord(msgspec.Struct, tag="run", kw_only=True):
    run: Run


class LogsRecord(msgspec.Struct, tag="logs", kw_only=True):
    run_id: str
    lines: list[LogLine]


class StepsRecord(msgspec.Struct, tag="steps", kw_only=True):
    """Journal entries of one run, in order, as the source store numbered them; import
    appends them in that order (the target numbers them, from 1 like the source)."""

    run_id: str
    steps: list[Step]


class KVRecord(msgspec.Struct, tag="kv", kw_only=True):
    namespace: str
    entries: list[KVEntry]


class ScheduleRecord(msgspec.Struct, tag="schedule", kw_only=True):
    schedule: Schedule


Record = Header | RunRecord | LogsRecord | StepsRecord | KVRecord | ScheduleRecord
_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Record)


class TransferError(Exception):
    """The input is not a seqd export, or is from an unknown format version."""


class Counts(msgspec.Struct):
    runs: int = 0
    log_lines: int = 0
    steps: int = 0
    skipped: int = 0
    kv_keys: int = 0
    schedules: int = 0


class _Out:
    """Records, encoded one a line, gathered into writes of about ``WRITE_BYTES``."""

    def __init__(self, write: Callable[[bytes], Awaitable[object]]) -> None:
        self._write = write
        self._buf = bytearray()

    async def add(self, record: Record) -> None:
        _encoder.encode_into(record, self._buf, -1)
        self._buf += b"\n"
        if len(self._buf) >= WRITE_BYTES:
            await self.flush()

    async def flush(self) -> None:
        if self._buf:
            data = bytes(self._buf)
            self._buf.clear()
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
    return counts


def _scoped(run: Run) -> Run:
    if run.idempotency_key is None or run.idempotency_scope is not None:
        return run
    scope = legacy_scope(run.idempotency_key, run.parent_id, run.submitted_by)
    return msgspec.structs.replace(run, idempotency_scope=scope)


async def import_store(store: StorageBackend, lines: AsyncIterable[bytes]) -> Counts:
    counts = Counts()
    skipped: set[str] = set()
    seen_header = False
    number = 0
    async for raw in lines:
        number += 1
        if not raw.strip():
            continue
        try:
            record = _decoder.decode(raw)
        except msgspec.DecodeError as exc:
            raise TransferError(f"line {number}: {exc}") from None
        if isinstance(record, Header):
            if record.format != FORMAT or record.version not in READABLE_VERSIONS:
                raise TransferError(
                    f"line {number}: unsupported export {record.format} v{record.version}"
                )
            seen_header = True
        elif not seen_header:
            raise TransferError("not a seqd export: the first line is not its header")
        elif isinstance(record, RunRecord):
            try:
                _, created = await store.create_run(_scoped(record.run))
            except Conflict:
                created = False
            if created:
                counts.runs += 1
            else:
                skipped.add(record.run.id)
                counts.skipped += 1
        elif isinstance(record, KVRecord):
            for entry in record.entries:
                if await store.kv_get(record.namespace, entry.key) is None:
                    await store.kv_set(record.namespace, entry.key, entry.value)
                    counts.kv_keys += 1
        elif isinstance(record, ScheduleRecord):
            if await store.get_schedule(record.schedule.name) is None:
                await store.save_schedule(record.schedule)
                counts.schedules += 1
        elif record.run_id in skipped:
            continue
        elif isinstance(record, StepsRecord):
            # A Step is a NewStep: the target numbers them afresh, in this order.
            await store.append_steps(record.run_id, record.steps)
            counts.steps += len(record.steps)
        else:
            await store.append_logs(
                record.run_id,
                [
                    NewLogLine(ts=line.ts, stream=line.stream, text=line.text)
                    for line in record.lines
                ],
            )
            counts.log_lines += len(record.lines)
    if not seen_header:
        raise TransferError("not a seqd export: no header line")
    return counts
