"""``import_run`` on the file store: a run with its log and journal, whole or not at all,
also across a crash.

A directory tree has no transactions, but the run file can be the commit point: the
run's log and journal are written first, whole, as its files under ``orphans/`` (each
replaced in one rename, so leftovers of an import cut short go with it), then the run
file is written, which moves them next to it (``RunFiles.insert``; the scan at the next
open finishes a move a crash interrupted). Until the run file exists the run is not
there at all, and an import run again writes it afresh.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AsyncExitStack
from typing import Any

from seqd.builtin.storage.fs.files import (
    atomic_write,
    check_run_id,
    check_task,
    claim_name,
    make_dirs,
)
from seqd.builtin.storage.fs.logs import JOURNALS, LOGS, Format, LogState, encode
from seqd.builtin.storage.fs.runs import KEY_LOCK, RunFiles
from seqd.model.runs import NewLogLine, NewStep, Run
from seqd.plugins.storage_kit.records import check_run_key


async def import_run(
    runs: RunFiles, run: Run, logs: Sequence[NewLogLine], steps: Sequence[NewStep]
) -> bool:
    check_run_id(run.id)
    check_task(run.task)
    check_run_key(run)
    return await runs.store.guard(_import(runs, run, logs, steps))


async def _import(
    runs: RunFiles, run: Run, logs: Sequence[NewLogLine], steps: Sequence[NewStep]
) -> bool:
    store = runs.store
    await store.writable()
    key = claim_name(run.idempotency_scope, run.idempotency_key)
    async with AsyncExitStack() as held:
        await held.enter_async_context(store.locks.hold(run.id))  # ids first, as ``create``
        if key is not None:
            await held.enter_async_context(store.locks.hold(KEY_LOCK + key))
        if store.index.get(run.id) is not None:
            return False
        if key is not None and store.index.keys.get(key) is not None:
            return False
        await _stage(runs, LOGS, run.id, logs)
        await _stage(runs, JOURNALS, run.id, steps)
        await runs.insert(run)
        return True


async def _stage(
    runs: RunFiles, fmt: Format[Any, Any], run_id: str, entries: Sequence[Any]
) -> None:
    """Write the run's whole ``fmt`` file under ``orphans/``, replacing what is there."""
    store = runs.store
    files = store.files[fmt.suffix]
    if not entries and run_id not in files:
        return
    data, marks = encode(fmt, 1, entries)
    path = store.layout.seq_file(fmt.suffix, None, run_id)

    def write(batch: Any) -> None:
        make_dirs(store.layout.orphans, batch)
        atomic_write(path, data, batch)

    def apply(_done: None) -> None:
        state = LogState(None)
        state.appended(0, len(data), marks, len(entries))
        files[run_id] = state

    await store.commit(write, apply)
