"""The storage interface: the only way the core reaches persisted state.

A backend is contributed by a plugin as a ``StorageFactory`` (through
``seqd_register_storage_backends``) and chosen by name in the config. Every method is
async: a backend keeps blocking work off the event loop itself (SQLite uses a writer
thread that groups commits; PostgreSQL an async pool). ``seqd.testing.storage`` holds
the conformance suite every backend must pass, and ``seqd.plugins.storage_kit`` the
helpers backends share (kept apart so that this module is the contract alone).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from seqd.errors import ValidationFailed
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


@dataclass(frozen=True)
class StorageContext:
    """What a backend may know about the daemon that opens it."""

    state_dir: str
    durability: str
    """``normal`` (survives a process crash) or ``full`` (also survives power loss)."""


@runtime_checkable
class StorageBackend(Protocol):
    name: str
    location: str
    """Where the data lives, for humans (a path, or a DSN without its password)."""

    async def open(self) -> None:
        """Create or migrate the schema and get ready; called once before any other."""

    async def close(self) -> None:
        """Flush pending writes and release resources; no call follows."""

    async def create_run(self, run: Run) -> tuple[Run, int]:
        """Insert ``run``; return it with the change position of the insert (≥ 1). If
        its ``idempotency_key`` is already taken, insert nothing and return the existing
        run with 0 (so the second member is false exactly when nothing was created).

        Every run write (this and ``update_run``) takes the store's next change position
        in the same transaction, in commit order: a reader that sees position P has seen
        every write before it. ``run_changes`` lists them."""

    async def update_run(self, run: Run, expect: Sequence[RunStatus] | None = None) -> int:
        """Replace the stored record of ``run.id`` with ``run``; return the write's
        change position (≥ 1), or 0 when nothing was written.

        With ``expect``, only if the stored status is one of them (compare-and-set:
        a stale writer can never move a finished run backwards). 0 also when the run
        does not exist.
        """

    async def get_run(self, run_id: str) -> Run | None: ...

    async def list_runs(self, query: RunQuery) -> RunPage:
        """Newest first (by id). ``cursor`` is the last id of the previous page."""

    async def count_by_status(self) -> dict[str, int]:
        """Number of runs per status; statuses with no runs may be left out."""

    async def unfinished_runs(self) -> list[Run]:
        """Every run whose status is queued, running or suspended, oldest first."""

    async def run_changes(
        self, after: int, limit: int, root_id: str | None = None
    ) -> list[RunChange]:
        """Runs whose last write has a change position ``> after``, by position, at most
        ``limit``; with ``root_id`` only that run and every run under it (by
        ``parent_id``: a flow's tree). Each run appears once, as last written: a run
        written twice since ``after`` is listed at its later position only."""

    async def last_change(self) -> int:
        """The highest change position written so far (0 for an empty store)."""

    async def append_logs(self, run_id: str, lines: Sequence[NewLogLine]) -> int:
        """Append lines in order, numbering them after the run's last ``seq``
        (the first line of a run is seq 1). Returns the last seq written."""

    async def read_logs(self, run_id: str, after: int, limit: int) -> list[LogLine]:
        """Lines with ``seq > after`` in order, at most ``limit``."""

    async def last_log_seq(self, run_id: str) -> int:
        """The seq of the run's last log line; 0 when it has none (a log's tail, and
        where a live subscription starts, are read from it)."""

    async def append_steps(self, run_id: str, steps: Sequence[NewStep]) -> int:
        """Append journal entries in order, numbered after the run's last (from 1);
        durable when this returns. Returns the last seq written. ``data`` values may
        be ``msgspec.Raw`` (JSON already encoded by a python worker): store them as
        that JSON, e.g. by encoding the entry with msgspec."""

    async def read_steps(self, run_id: str, after: int, limit: int) -> list[Step]:
        """Journal entries with ``seq > after`` in order, at most ``limit``."""

    async def last_step_seq(self, run_id: str) -> int:
        """The seq of the run's last journal entry; 0 when it has none."""

    async def kv_get(self, namespace: str, key: str) -> KVEntry | None:
        """The entry of ``key`` in ``namespace``, or None."""

    async def kv_set(self, namespace: str, key: str, value: Any) -> KVEntry:
        """Store ``value`` (any JSON value, null included) under ``key``, replacing what
        was there; durable before it returns. Returns the stored entry."""

    async def kv_delete(self, namespace: str, key: str) -> bool:
        """Remove ``key``; whether it existed."""

    async def kv_namespaces(self) -> list[str]:
        """Every namespace that holds at least one key, sorted (export walks them)."""

    async def kv_list(
        self, namespace: str, prefix: str = "", after: str | None = None, limit: int = 100
    ) -> list[KVEntry]:
        """Entries of ``namespace`` whose key starts with ``prefix``, by key (compared
        as UTF-8 bytes / code points), only keys ``> after`` when given, at most ``limit``."""


@runtime_checkable
class StorageFactory(Protocol):
    """A named way to open a backend; ``options`` is the ``[backends.<name>]`` table."""

    name: str

    def create(self, options: dict[str, Any], context: StorageContext) -> StorageBackend:
        """Validate ``options`` (raise ``seqd.errors.ValidationFailed`` naming the field)
        and return an unopened backend."""


# -- what every backend accepts as a kv namespace and key ------------------------------

MAX_KV_NAMESPACE = 200
MAX_KV_KEY = 512


def check_kv_name(namespace: str, key: str | None = None) -> None:
    """What every backend accepts as a namespace and key: non-empty UTF-8 text without
    NUL, of bounded length (the file store hashes them into file names)."""
    checks = (("namespace", namespace, MAX_KV_NAMESPACE), ("key", key, MAX_KV_KEY))
    for field, value, limit in checks:
        if value is None:
            continue
        ok = isinstance(value, str) and 0 < len(value) <= limit and "\x00" not in value
        if ok:
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                ok = False
        if not ok:
            raise ValidationFailed(
                f"{field} must be 1 to {limit} characters of UTF-8 text without NUL",
                {"field": field},
            )
