"""The blocking halves of the file store's calls: what runs on the writer thread (one
op per write, each applying whole or raising) and on the reader threads.

An op only touches the disk; the backend updates its in-memory view on the loop from
the op's return value, so the two stay in step. Steps after the run file is written
(moving a log along, removing an old file or claim) are best effort: if one fails the
write still stands, the failure is logged, and the scan at the next open finishes it.
"""

from __future__ import annotations

import logging
import os
from contextlib import suppress

import msgspec

from seqd.builtin.storage.fs.files import (
    Batch,
    atomic_write,
    claim,
    decoded,
    fsync_dir,
    move,
    read_file,
    remove,
)
from seqd.model.runs import Run, RunChange

logger = logging.getLogger(__name__)

_RUN = msgspec.json.Decoder(Run)
_ENCODER = msgspec.json.Encoder()


class _Change(msgspec.Struct):
    """The change position a run file keeps beside the run (the rest is skipped)."""

    change: int = 0


_CHANGE = msgspec.json.Decoder(_Change)


def run_record(run: Run, change: int) -> bytes:
    """A run file's content: the run as one line of JSON with its change position as
    one more member, ``change`` (a ``Run`` decoder skips it)."""
    return with_change(_ENCODER.encode(run), change)


def with_change(record: bytes, change: int) -> bytes:
    """A run's JSON object (a run file of a seqd before change positions, or a run just
    encoded) as a run file's line, ending with its ``change``."""
    return record.rstrip(b"\n")[:-1] + b',"change":%d}\n' % change


def _move_quietly(source: str, target: str, batch: Batch) -> bool:
    try:
        return move(source, target, batch)
    except OSError as exc:
        logger.warning("file storage: could not move %s to %s: %s", source, target, exc)
        return False


def _write_claimed(path: str, data: bytes, key_path: str | None, owner: str, batch: Batch) -> None:
    """Claim the idempotency key (if any), then write the run file; undo the claim if
    the run file could not be written."""
    if key_path is not None:
        claim(key_path, owner, batch)
    try:
        atomic_write(path, data, batch)
    except BaseException:
        if key_path is not None:
            with suppress(OSError):
                remove(key_path, batch)
        raise


def create(
    path: str,
    data: bytes,
    key_path: str | None,
    owner: str,
    moves: list[tuple[str, str]],
    batch: Batch,
) -> list[str]:
    """Write a new run; move its orphan log and journal next to it (``moves``).
    Returns the targets that were moved."""
    _write_claimed(path, data, key_path, owner, batch)
    return [target for source, target in moves if _move_quietly(source, target, batch)]


NewRun = tuple[str, bytes, str | None, str, list[tuple[str, str]]]
"""A run of a batch: (run file, its content, key claim or None, run id, moves)."""


def create_batch(batch_path: str, lines: bytes, runs: list[NewRun], batch: Batch) -> list[str]:
    """Write a batch of new runs, all or none, also across a crash. The batch file (every
    run, one JSON line each) is the commit point, placed whole by a rename; then each
    run file (with its key claim), then the batch file goes. The scan at the next open
    finishes a batch a crash interrupted (``scan``); a failure here undoes what was
    written, the batch file included. Returns the targets of the moves that happened."""
    atomic_write(batch_path, lines, batch)
    if batch.durable:
        fsync_dir(os.path.dirname(batch_path))  # committed before any run file appears
    written: list[tuple[str, str | None]] = []
    try:
        for path, data, key_path, owner, _ in runs:
            _write_claimed(path, data, key_path, owner, batch)
            written.append((path, key_path))
        if batch.durable:
            for directory in sorted({os.path.dirname(p) for w in written for p in w if p}):
                fsync_dir(directory)  # every run is in place before the batch file goes
    except BaseException:
        for path, key_path in written:
            for stale in (path, key_path):
                if stale is not None:
                    with suppress(OSError):
                        remove(stale, batch)
        try:
            remove(batch_path, batch)
        except OSError as exc:
            logger.error("file storage: could not undo the batch %s: %s", batch_path, exc)
        raise
    remove(batch_path, batch)
    return [t for *_, moves in runs for s, t in moves if _move_quietly(s, t, batch)]


def replace(
    path: str,
    data: bytes,
    owner: str,
    key_path: str | None,
    release_path: str | None,
    old_path: str | None,
    moves: list[tuple[str, str]],
    batch: Batch,
) -> list[str]:
    """Rewrite a run. With ``old_path`` (the run changed task), move its other files
    along and remove the old run file. Returns the targets that were moved."""
    _write_claimed(path, data, key_path, owner, batch)
    moved = [target for source, target in moves if _move_quietly(source, target, batch)]
    for stale in (old_path, release_path):
        if stale is not None:
            try:
                remove(stale, batch)
            except OSError as exc:
                logger.warning("file storage: could not remove %s: %s", stale, exc)
    return moved


def read_changes(paths: list[str]) -> list[RunChange | None]:
    """Each run file as a ``RunChange`` (run and position from the same read); None
    where the file is missing."""
    changes: list[RunChange | None] = []
    for path in paths:
        data = _read_or_none(path)
        if data is None:
            changes.append(None)
            continue
        run = _decoded(path, data)
        changes.append(RunChange(position=_CHANGE.decode(data).change, run=run))
    return changes


def read_runs(paths: list[str]) -> list[Run | None]:
    """Decode each run file; None where the file is missing (it may have just moved)."""
    runs: list[Run | None] = []
    for path in paths:
        data = _read_or_none(path)
        runs.append(None if data is None else _decoded(path, data))
    return runs


def _read_or_none(path: str) -> bytes | None:
    try:
        return read_file(path)
    except FileNotFoundError:
        return None


def _decoded(path: str, data: bytes) -> Run:
    return decoded(_RUN, path, data, "run file")
