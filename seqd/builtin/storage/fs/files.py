"""Paths and single-file primitives of the file store (``storage = "fs"``).

Every path is built here, and only from validated names: a task name must match
``TASK_NAME_PATTERN`` as a whole (``re.fullmatch``, so a trailing newline cannot slip
through ``$``) and a run id must be lowercase hex, so no text from a request can ever
point outside the root. The writes are the crash-safe kinds: a whole file is replaced
by renaming a temp file from the same directory over it; a claim is created with
``O_EXCL``. With ``Batch.durable`` the data is fsynced before the rename and the
directories touched are recorded so the writer fsyncs each one once per batch.
"""

from __future__ import annotations

import errno
import hashlib
import itertools
import logging
import os
import re
from contextlib import suppress
from typing import TypeVar

import msgspec

from seqd.errors import StorageUnavailable, ValidationFailed
from seqd.model.tasks import TASK_NAME_PATTERN
from seqd.plugins.storage_kit.errors import unavailable as storage_unavailable

logger = logging.getLogger(__name__)

LABEL = "file storage"
"""How messages name this store."""
_TASK_NAME = re.compile(TASK_NAME_PATTERN.removeprefix("^").removesuffix("$"))
_RUN_ID = re.compile(r"[0-9a-f]{1,64}")
TMP_SUFFIX = ".tmp"
RUN_SUFFIX = ".json"
LOG_SUFFIX = ".log.jsonl"
JOURNAL_SUFFIX = ".journal.jsonl"
BATCH_SUFFIX = ".jsonl"

_counter = itertools.count()

_HINTS = {
    errno.ENOSPC: "the file system is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EIO: "an I/O error occurred",
    errno.EMFILE: "too many open files",
    errno.ENFILE: "too many open files in the system",
}


def is_task_name(name: object) -> bool:
    return isinstance(name, str) and _TASK_NAME.fullmatch(name) is not None


def is_run_id(text: object) -> bool:
    return isinstance(text, str) and _RUN_ID.fullmatch(text) is not None


def check_task(name: str) -> str:
    if not is_task_name(name):
        raise ValidationFailed(
            f"task name {name!r} is not valid: it must match {TASK_NAME_PATTERN}",
            {"field": "task"},
        )
    return name


def check_run_id(run_id: str) -> str:
    if not is_run_id(run_id):
        raise ValidationFailed(
            f"run id {run_id!r} is not valid: it must be 1 to 64 lowercase hex digits",
            {"field": "id"},
        )
    return run_id


def is_temp(name: str) -> bool:
    return name.startswith(".") and name.endswith(TMP_SUFFIX)


class Layout:
    """Where everything lives under ``root`` (see docs/storage-fs.md)."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.tasks = os.path.join(root, "tasks")
        self.idempotency = os.path.join(root, "idempotency")
        self.orphans = os.path.join(root, "orphans")
        """Logs and journals of run ids that have no run record (yet)."""
        self.run_batches = os.path.join(root, "batches")
        """Batches of runs being created (``create_runs``): each file is the commit
        point of its batch, finished by the scan if a crash interrupted it."""
        self.lock = os.path.join(root, "lock")

    def runs_dir(self, task: str) -> str:
        return os.path.join(self.tasks, check_task(task), "runs")

    def run_file(self, task: str, run_id: str) -> str:
        return os.path.join(self.runs_dir(task), check_run_id(run_id) + RUN_SUFFIX)

    def sibling(self, task: str, run_id: str, suffix: str) -> str:
        return os.path.join(self.runs_dir(task), check_run_id(run_id) + suffix)

    def seq_file(self, suffix: str, task: str | None, run_id: str) -> str:
        """A run's log or journal (``suffix``): next to its run file, or under
        ``orphans/`` while no run has that id (``task`` None)."""
        if task is None:
            return os.path.join(self.orphans, check_run_id(run_id) + suffix)
        return self.sibling(task, run_id, suffix)

    def run_batch_file(self, first_id: str) -> str:
        return os.path.join(self.run_batches, check_run_id(first_id) + BATCH_SUFFIX)

    def key_file(self, claim: str) -> str:
        """The claim file of an idempotency key (``claim_name``)."""
        digest = hashlib.sha256(claim.encode("utf-8", "surrogatepass")).hexdigest()
        return os.path.join(self.idempotency, digest)


def claim_name(scope: str | None, key: str | None) -> str | None:
    """What an idempotency claim is held under: the key within its scope (a scope has
    no NUL, so the two never run together)."""
    return None if key is None else f"{scope}\x00{key}"


class Batch:
    """What one writer batch shares: the durability mode and the directories whose
    entries changed (fsynced once each at the end of the batch when durable)."""

    __slots__ = ("dirs", "durable")

    def __init__(self, durable: bool) -> None:
        self.durable = durable
        self.dirs: set[str] = set()

    def touched(self, directory: str) -> None:
        if self.durable:
            self.dirs.add(directory)


def unavailable(exc: OSError, root: str) -> StorageUnavailable:
    """``exc`` as the error clients see: which store, what went wrong, where."""
    code = errno.errorcode.get(exc.errno or 0, "EUNKNOWN")
    where = exc.filename if isinstance(exc.filename, str) else root
    hint = _HINTS.get(exc.errno or 0, exc.strerror or str(exc))
    return storage_unavailable(LABEL, root, f"{hint} ({code} on {where})", errno=code, path=where)


def make_dirs(path: str, batch: Batch) -> None:
    """``mkdir -p``; when durable, each new entry's parent is queued for fsync."""
    if os.path.isdir(path):
        return
    parent = os.path.dirname(path)
    if parent and parent != path:
        make_dirs(parent, batch)
    try:
        os.mkdir(path, 0o755)
    except FileExistsError:
        return
    batch.touched(parent)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _open_new(path: str, batch: Batch, flags: int) -> int:
    """``os.open`` with O_CREAT, creating the directory once if it is missing."""
    try:
        return os.open(path, flags | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except FileNotFoundError:
        make_dirs(os.path.dirname(path), batch)
        return os.open(path, flags | os.O_CREAT | os.O_CLOEXEC, 0o644)


def atomic_write(path: str, data: bytes, batch: Batch) -> None:
    """Replace ``path`` with ``data``: readers and crashes see the old or the new file."""
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.{next(_counter)}{TMP_SUFFIX}")
    fd = _open_new(tmp, batch, os.O_WRONLY | os.O_EXCL)
    try:
        try:
            write_all(fd, data)
            if batch.durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    batch.touched(directory)


def claim(path: str, owner: str, batch: Batch) -> None:
    """Create ``path`` holding ``owner`` with O_EXCL. An existing file is a stale claim
    (the caller has checked that no run holds the key), so it is replaced."""
    try:
        fd = _open_new(path, batch, os.O_WRONLY | os.O_EXCL)
    except FileExistsError:
        logger.warning("replacing the stale idempotency claim %s", path)
        atomic_write(path, owner.encode(), batch)
        return
    try:
        try:
            write_all(fd, owner.encode())
            if batch.durable:
                os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        with suppress(OSError):
            os.unlink(path)
        raise
    batch.touched(os.path.dirname(path))


def remove(path: str, batch: Batch) -> None:
    """Unlink ``path`` if it exists."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return
    batch.touched(os.path.dirname(path))


def move(source: str, target: str, batch: Batch) -> bool:
    """Rename ``source`` to ``target`` if it exists; False if there was nothing."""
    try:
        os.rename(source, target)
    except FileNotFoundError:
        if os.path.exists(source):  # the target directory is missing
            make_dirs(os.path.dirname(target), batch)
            os.rename(source, target)
        else:
            return False
    batch.touched(os.path.dirname(source))
    batch.touched(os.path.dirname(target))
    return True


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_file(path: str) -> bytes:
    with open(path, "rb", buffering=0) as f:  # unbuffered: one fstat, one read
        return f.readall()


T = TypeVar("T")


def decoded(decoder: msgspec.json.Decoder[T], path: str, data: bytes, what: str) -> T:
    """``data`` (read from ``path``) decoded; a file that does not decode is reported
    as ``StorageUnavailable`` naming it (``what``: "run file", "key-value file")."""
    try:
        return decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise StorageUnavailable(
            f"file storage: {what} {path} is unreadable: {exc}", {"path": path}
        ) from exc
