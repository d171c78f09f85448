"""The file store's key-value state (``kv.*`` tools): one small JSON file per key.

``<root>/kv/<sha256 of the namespace>/<sha256 of the key>.json`` holds the whole entry
(namespace, key, value, updated_at) on one line: a record file (``records``), so a file
is self-describing and no text from a request ever becomes part of a path. Files are
replaced atomically like run files. Listing reads the namespace's folder: fine for the
hundreds of keys a task keeps, not meant for millions (use SQLite or PostgreSQL for
that).
"""

from __future__ import annotations

import os

import msgspec

from seqd.builtin.storage.fs import records
from seqd.builtin.storage.fs.files import Batch
from seqd.model.runs import KVEntry

_DECODER = msgspec.json.Decoder(KVEntry)
WHAT = "key-value"


def namespace_dir(root: str, namespace: str) -> str:
    return os.path.join(root, "kv", records.digest(namespace))


def key_file(root: str, namespace: str, key: str) -> str:
    return records.record_file(namespace_dir(root, namespace), key)


def read(root: str, namespace: str, key: str) -> KVEntry | None:
    return records.read(key_file(root, namespace, key), _DECODER, WHAT)


def write(path: str, entry: KVEntry, batch: Batch) -> None:
    records.write(path, records.encode(entry), batch)


delete = records.delete


def read_namespace(root: str, namespace: str) -> list[KVEntry]:
    """Every entry of ``namespace``, sorted by key."""
    entries = records.read_folder(namespace_dir(root, namespace), _DECODER, WHAT)
    entries.sort(key=lambda e: e.key)
    return entries


def namespaces(root: str) -> list[str]:
    """Every namespace with a key, sorted: folders are named by digest, so each one's
    name is read from one of its (self-describing) entries."""
    found: list[str] = []
    try:
        folders = os.listdir(os.path.join(root, "kv"))
    except FileNotFoundError:
        return []
    for folder in folders:
        path = os.path.join(root, "kv", folder)
        for name in sorted(records.record_names(path)):
            entry = records.read(os.path.join(path, name), _DECODER, WHAT)
            if entry is not None:
                found.append(entry.namespace)
                break
    return sorted(found)
