"""The built-in file store (``storage = "fs"``): the original system's layout, made safe.

Each run is a JSON file under ``tasks/<task>/runs/``, its log and its journal JSON
Lines files next to it (layout, guarantees and limits: docs/storage-fs.md). Files are
replaced atomically (temp file + rename; with ``durability = "full"`` also fsynced,
file and directory); logs and journals are appended whole (``logs``).

All file I/O runs off the loop: writes on one writer thread that batches them
(``writer``), reads on a small thread pool. The index that answers lists, counts and
``get_run``'s "where is it" lives in memory (``index``), rebuilt at open by a scan
(``scan``) and updated on the loop after each write. Writes to one run hold that run's
asyncio lock from the check to the index update, so a compare-and-set is atomic; each
write runs as its own task, so a caller that is cancelled never leaves the disk and the
index apart (``store``). A lock file makes one process the writer: the daemon claims
it before anything else; another process that opens the store (``seqd export`` beside
the daemon) only reads until it can take over.

This module is the ``StorageBackend`` itself, the plugin's entry point: it hands runs
to ``runs``, logs and journals to ``seqs``, key-value state to ``kv``, the alert history
to ``alerts``, schedules to ``schedules``, and retention to ``pruning``.

Options, ``[backends.fs]``: ``root`` (default ``<state_dir>/files``; a relative path is
taken from the state dir).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from seqd import hookimpl
from seqd.builtin.storage.fs import imports, kv, pruning, records, schedules, seqs
from seqd.builtin.storage.fs.alerts import AlertHistory
from seqd.builtin.storage.fs.logs import JOURNALS, LOGS
from seqd.builtin.storage.fs.runs import RunFiles
from seqd.builtin.storage.fs.store import FileStore
from seqd.model.alerts import AlertEvent, NewAlertEvent
from seqd.model.retention import PruneBatch, PruneQuery
from seqd.model.runs import (
    KVEntry,
    LogLine,
    NewLogLine,
    NewStep,
    Run,
    RunChange,
    RunPage,
    RunQuery,
    RunStatus,
    Step,
)
from seqd.model.schedules import Schedule
from seqd.plugins.storage import StorageContext, StorageFactory, check_kv_name
from seqd.plugins.storage_kit.options import check_durability, convert_options, path_in_state_dir
from seqd.plugins.storage_kit.records import (
    check_schedule_name,
    kv_select,
    new_kv_entry,
    schedule_text,
)


class FSOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    root: Annotated[str, Meta(min_length=1)] | None = None


class FSBackend:
    """``seqd.plugins.storage.StorageBackend`` on a directory tree of JSON files."""

    name = "fs"

    def __init__(self, root: str, durability: str = "normal", read_threads: int = 4) -> None:
        self.location = root
        self.store = FileStore(root, check_durability(durability) == "full", read_threads)
        self.runs = RunFiles(self.store)
        self.alerts = AlertHistory(self.store)

    async def claim(self) -> None:
        await self.store.claim()

    async def open(self) -> None:
        await self.store.open()

    async def close(self) -> None:
        await self.store.close()

    def owns_store(self) -> bool:
        """Whether this process holds the store's lock (and may write)."""
        return self.store.owns_store()

    # -- runs ------------------------------------------------------------------------

    async def create_run(self, run: Run) -> tuple[Run, int]:
        return await self.runs.create(run)

    async def create_runs(self, runs: Sequence[Run]) -> list[tuple[Run, int]]:
        return await self.runs.create_many(runs)

    async def import_run(
        self, run: Run, logs: Sequence[NewLogLine], steps: Sequence[NewStep]
    ) -> bool:
        return await imports.import_run(self.runs, run, logs, steps)

    async def update_run(self, run: Run, expect: Sequence[RunStatus] | None = None) -> int:
        return await self.runs.update(run, expect)

    async def get_run(self, run_id: str) -> Run | None:
        return await self.runs.get(run_id)

    async def list_runs(self, query: RunQuery) -> RunPage:
        return await self.runs.page(query)

    async def runs_by_prefix(self, prefix: str, limit: int) -> list[Run]:
        return await self.runs.by_prefix(prefix, limit)

    async def count_children(self, run_ids: Sequence[str]) -> dict[str, int]:
        return await self.runs.children(run_ids)

    async def count_by_status(self) -> dict[str, int]:
        return await self.runs.counts()

    async def unfinished_runs(self) -> list[Run]:
        return await self.runs.unfinished()

    async def prune_runs(self, query: PruneQuery) -> PruneBatch:
        return await pruning.prune(self.store, query)

    async def run_changes(
        self, after: int, limit: int, root_id: str | None = None
    ) -> list[RunChange]:
        return await self.runs.changes(after, limit, root_id)

    async def last_change(self) -> int:
        return self.runs.last_change()

    # -- logs and journals -----------------------------------------------------------

    async def append_logs(self, run_id: str, lines: Sequence[NewLogLine]) -> int:
        return await seqs.append(self.store, LOGS, run_id, lines)

    async def read_logs(self, run_id: str, after: int, limit: int) -> list[LogLine]:
        return await seqs.read(self.store, LOGS, run_id, after, limit)

    async def last_log_seq(self, run_id: str) -> int:
        return seqs.last(self.store, LOGS, run_id)

    async def append_steps(self, run_id: str, steps: Sequence[NewStep]) -> int:
        return await seqs.append(self.store, JOURNALS, run_id, steps)

    async def read_steps(self, run_id: str, after: int, limit: int) -> list[Step]:
        return await seqs.read(self.store, JOURNALS, run_id, after, limit)

    async def last_step_seq(self, run_id: str) -> int:
        return seqs.last(self.store, JOURNALS, run_id)

    # -- key-value state -------------------------------------------------------------

    async def kv_get(self, namespace: str, key: str) -> KVEntry | None:
        check_kv_name(namespace, key)
        return await self.store.read(partial(kv.read, self.location, namespace, key))

    async def kv_set(self, namespace: str, key: str, value: Any) -> KVEntry:
        entry, _ = new_kv_entry(namespace, key, value)
        path = kv.key_file(self.location, namespace, key)
        return await self.store.guard(self._file_write(partial(kv.write, path, entry), entry))

    async def kv_delete(self, namespace: str, key: str) -> bool:
        check_kv_name(namespace, key)
        path = kv.key_file(self.location, namespace, key)
        return await self.store.guard(self._file_write(partial(kv.delete, path), None))

    async def _file_write(self, op: Callable[[Any], Any], result: Any) -> Any:
        """A write beside the run index (a key-value entry, a schedule): ``result``,
        or what ``op`` returned when ``result`` is None."""
        await self.store.writable()
        value = await self.store.commit(op, lambda _v: None)
        return value if result is None else result

    async def kv_namespaces(self) -> list[str]:
        return await self.store.read(partial(kv.namespaces, self.location))

    async def kv_list(
        self, namespace: str, prefix: str = "", after: str | None = None, limit: int = 100
    ) -> list[KVEntry]:
        check_kv_name(namespace)
        if limit < 1:
            return []
        entries = await self.store.read(partial(kv.read_namespace, self.location, namespace))
        return kv_select(entries, prefix, after, limit)

    # -- alert history ---------------------------------------------------------------

    async def append_alert_event(self, event: NewAlertEvent) -> int:
        return await self.alerts.append(event)

    async def list_alert_events(
        self, rule: str | None = None, before: int | None = None, limit: int = 100
    ) -> list[AlertEvent]:
        return await self.alerts.list(rule, before, limit)

    # -- schedules -------------------------------------------------------------------

    async def save_schedule(self, schedule: Schedule) -> None:
        path = schedules.schedule_file(self.location, schedule.name)
        write = partial(records.write, path, schedule_text(schedule).encode())
        await self.store.guard(self._file_write(write, True))

    async def get_schedule(self, name: str) -> Schedule | None:
        check_schedule_name(name)
        return await self.store.read(partial(schedules.read, self.location, name))

    async def list_schedules(self) -> list[Schedule]:
        return await self.store.read(partial(schedules.read_all, self.location))

    async def delete_schedule(self, name: str) -> bool:
        check_schedule_name(name)
        path = schedules.schedule_file(self.location, name)
        return await self.store.guard(self._file_write(partial(records.delete, path), None))


class FSStorageFactory:
    """Opens ``FSBackend`` from ``[backends.fs]``."""

    name = "fs"

    def create(self, options: dict[str, Any], context: StorageContext) -> FSBackend:
        opts = convert_options(options, FSOptions, "backends.fs")
        return FSBackend(
            path_in_state_dir(context, opts.root, "files"),
            durability=context.durability,
        )


@hookimpl
def seqd_register_storage_backends(register: Callable[[StorageFactory], None]) -> None:
    register(FSStorageFactory())
