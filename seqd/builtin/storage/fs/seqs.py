"""Appending to and reading a run's log or journal, on the loop.

Its own module because both are seq files (``logs``): one append path and one read path
serve them, given the ``Format``. An append numbers its entries after the file's last
seq under the run's lock (which also keeps the file from moving meanwhile) and updates
the file's ``LogState`` once the writer has appended them; a read never looks past the
complete lines, and looks again once a file that was just moving has settled.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial
from typing import Any, TypeVar

from seqd.builtin.storage.fs import logs
from seqd.builtin.storage.fs.files import check_run_id, is_run_id
from seqd.builtin.storage.fs.logs import Format, LogState
from seqd.builtin.storage.fs.store import FileStore

logger = logging.getLogger(__name__)

E = TypeVar("E")
N = TypeVar("N")


async def append(store: FileStore, fmt: Format[Any, N], run_id: str, entries: Sequence[N]) -> int:
    """Append ``entries`` to the run's ``fmt`` file; the last seq written."""
    check_run_id(run_id)
    return await store.guard(_append(store, fmt, run_id, list(entries)))


async def _append(store: FileStore, fmt: Format[Any, N], run_id: str, entries: list[N]) -> int:
    await store.writable()
    async with store.locks.hold(run_id):  # also keeps the file from moving meanwhile
        state = store.files[fmt.suffix].get(run_id)
        if not entries:
            return state.last_seq if state is not None else 0
        if state is None:
            meta = store.index.get(run_id)
            state = LogState(meta.task if meta else None)
        first = state.last_seq + 1
        last = first + len(entries) - 1
        data, marks = logs.encode(fmt, first, entries)
        new = state

        def apply(span: tuple[int, int]) -> None:
            store.files[fmt.suffix].setdefault(run_id, new)
            new.appended(span[0], span[1], marks, last)

        path = store.layout.seq_file(fmt.suffix, state.task, run_id)
        await store.commit(partial(logs.append, path, state.size, data), apply)
        return last


async def read(
    store: FileStore, fmt: Format[E, Any], run_id: str, after: int, limit: int
) -> list[E]:
    """Entries of the run's ``fmt`` file with seq > ``after``, at most ``limit``."""
    if limit < 1 or not is_run_id(run_id):
        return []
    store.readers.check()
    state = store.files[fmt.suffix].get(run_id)
    if state is None or after >= state.last_seq:
        return []
    for attempt in (1, 2):
        path = store.layout.seq_file(fmt.suffix, state.task, run_id)
        n_marks, indexed_to = len(state.marks), state.indexed_to
        fn = partial(
            logs.read, fmt, path, state.size, state.marks, n_marks, indexed_to,
            max(after, 0), limit,
        )  # fmt: skip
        try:
            found = await store.read(fn)
        except FileNotFoundError:
            if attempt == 2:
                logger.error("file storage: the %s of run %s is missing: %s", fmt.name,
                             run_id, path)  # fmt: skip
                return []
            async with store.locks.hold(run_id):  # it may be moving: let that finish
                continue
        state.learned(n_marks, indexed_to, found)
        return found.lines
    return []


def last(store: FileStore, fmt: Format[Any, Any], run_id: str) -> int:
    """The seq of the last entry of the run's ``fmt`` file; 0 when there is none."""
    store.readers.check()
    state = store.files[fmt.suffix].get(run_id) if is_run_id(run_id) else None
    return state.last_seq if state is not None else 0
