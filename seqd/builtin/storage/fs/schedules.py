"""The file store's schedules: one small JSON file per schedule.

``<root>/schedules/<sha256 of the name>.json`` holds the whole record on one line, so
a file is self-describing and no name from a request ever becomes part of a path.
Files are replaced atomically like run files; the scheduler rewrites one at each fire
(its cursor), never more. Listing reads the folder: fine for the thousands of
schedules a machine has, each file a few hundred bytes.
"""

from __future__ import annotations

import hashlib
import os

import msgspec

from seqd.builtin.storage.fs.files import TMP_SUFFIX, Batch, atomic_write, read_file, remove
from seqd.errors import StorageUnavailable
from seqd.model.schedules import Schedule
from seqd.plugins.storage_kit.records import SCHEDULE_DECODER

SUFFIX = ".json"


def folder(root: str) -> str:
    return os.path.join(root, "schedules")


def schedule_file(root: str, name: str) -> str:
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()
    return os.path.join(folder(root), digest + SUFFIX)


def _decode(path: str, data: bytes) -> Schedule:
    try:
        return SCHEDULE_DECODER.decode(data)
    except msgspec.DecodeError as exc:
        raise StorageUnavailable(
            f"file storage: schedule file {path} is unreadable: {exc}", {"path": path}
        ) from exc


def read(root: str, name: str) -> Schedule | None:
    path = schedule_file(root, name)
    try:
        return _decode(path, read_file(path))
    except FileNotFoundError:
        return None


def write(path: str, text: str, batch: Batch) -> None:
    atomic_write(path, text.encode("utf-8") + b"\n", batch)


def delete(path: str, batch: Batch) -> bool:
    existed = os.path.exists(path)
    remove(path, batch)
    return existed


def read_all(root: str) -> list[Schedule]:
    """Every schedule, sorted by name."""
    try:
        names = os.listdir(folder(root))
    except FileNotFoundError:
        return []
    found: list[Schedule] = []
    for name in names:
        if name.startswith(".") or name.endswith(TMP_SUFFIX) or not name.endswith(SUFFIX):
            continue
        path = os.path.join(folder(root), name)
        try:
            found.append(_decode(path, read_file(path)))
        except FileNotFoundError:
            continue  # deleted meanwhile
    found.sort(key=lambda s: s.name)
    return found
