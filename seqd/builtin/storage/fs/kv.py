"""The file store's key-value state (``kv.*`` tools): one small JSON file per key.

``<root>/kv/<sha256 of the namespace>/<sha256 of the key>.json`` holds the whole entry
(namespace, key, value, updated_at) on one line, so a file is self-describing and no
text from a request ever becomes part of a path. Files are replaced atomically like run
files. Listing reads the namespace's folder: fine for the hundreds of keys a task keeps,
not meant for millions (use SQLite or PostgreSQL for that).
"""

from __future__ import annotations

import hashlib
import os

import msgspec

from seqd.builtin.storage.fs.files import (
    TMP_SUFFIX,
    Batch,
    atomic_write,
    decoded,
    read_file,
    remove,
)
from seqd.model.runs import KVEntry

_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(KVEntry)
KV_SUFFIX = ".json"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def namespace_dir(root: str, namespace: str) -> str:
    return os.path.join(root, "kv", _digest(namespace))


def key_file(root: str, namespace: str, key: str) -> str:
    return os.path.join(namespace_dir(root, namespace), _digest(key) + KV_SUFFIX)


def _decode(path: str, data: bytes) -> KVEntry:
    return decoded(_DECODER, path, data, "key-value file")


def read(root: str, namespace: str, key: str) -> KVEntry | None:
    path = key_file(root, namespace, key)
    try:
        return _decode(path, read_file(path))
    except FileNotFoundError:
        return None


def write(path: str, entry: KVEntry, batch: Batch) -> None:
    atomic_write(path, _ENCODER.encode(entry) + b"\n", batch)


def delete(path: str, batch: Batch) -> bool:
    existed = os.path.exists(path)
    remove(path, batch)
    return existed


def read_namespace(root: str, namespace: str) -> list[KVEntry]:
    """Every entry of ``namespace``, sorted by key."""
    folder = namespace_dir(root, namespace)
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    entries: list[KVEntry] = []
    for name in names:
        if name.startswith(".") or name.endswith(TMP_SUFFIX) or not name.endswith(KV_SUFFIX):
            continue
        path = os.path.join(folder, name)
        try:
            entries.append(_decode(path, read_file(path)))
        except FileNotFoundError:
            continue  # deleted meanwhile
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
        try:
            names = sorted(n for n in os.listdir(path) if n.endswith(KV_SUFFIX))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for name in names:
            data = read_file(os.path.join(path, name))
            if data is not None:
                found.append(_decode(os.path.join(path, name), data).namespace)
                break
    return sorted(found)
