"""Self-describing record files: one small JSON record per file, named by a digest.

Its own module because the key-value state (``kv``) and the schedules (``schedules``)
keep their records alike: ``<sha256 of the name>.json`` in a folder, the whole record
on one line (so a file says what it is and no name from a request becomes a path),
replaced atomically like run files, listed by reading the folder. A file that does not
decode is reported as ``StorageUnavailable`` naming it, never skipped in silence.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, TypeVar

import msgspec

from seqd.builtin.storage.fs.files import TMP_SUFFIX, Batch, atomic_write, read_file, remove
from seqd.errors import StorageUnavailable

T = TypeVar("T")
SUFFIX = ".json"
_ENCODER = msgspec.json.Encoder()


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record_file(folder: str, name: str) -> str:
    return os.path.join(folder, digest(name) + SUFFIX)


def decode(path: str, data: bytes, decoder: msgspec.json.Decoder[T], what: str) -> T:
    try:
        return decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise StorageUnavailable(
            f"file storage: {what} file {path} is unreadable: {exc}", {"path": path}
        ) from exc


def read(path: str, decoder: msgspec.json.Decoder[T], what: str) -> T | None:
    try:
        return decode(path, read_file(path), decoder, what)
    except FileNotFoundError:
        return None


def write(path: str, data: bytes, batch: Batch) -> None:
    atomic_write(path, data + b"\n", batch)


def delete(path: str, batch: Batch) -> bool:
    existed = os.path.exists(path)
    remove(path, batch)
    return existed


def record_names(folder: str) -> list[str]:
    """The record files in ``folder`` (temp files left out); none if it is missing."""
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [n for n in names if n.endswith(SUFFIX) and not n.startswith(".")
            and not n.endswith(TMP_SUFFIX)]  # fmt: skip


def read_folder(folder: str, decoder: msgspec.json.Decoder[T], what: str) -> list[T]:
    """Every record in ``folder`` (one deleted meanwhile is left out)."""
    found: list[T] = []
    for name in record_names(folder):
        record = read(os.path.join(folder, name), decoder, what)
        if record is not None:
            found.append(record)
    return found


def encode(value: Any) -> bytes:
    return _ENCODER.encode(value)
