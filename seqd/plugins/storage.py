"""The storage interface: the only way the core reaches persisted state.

A backend is contributed by a plugin as a ``StorageFactory`` (through
``seqd_register_storage_backends``) and chosen by name in the config. Every method is
async: a backend keeps blocking work off the event loop itself (SQLite uses a writer
thread that groups commits; PostgreSQL an async pool). ``seqd.testing.storage`` holds
the conformance suite every backend must pass, and ``seqd.plugins.storage_kit`` the
helpers backends share (kept apart so that this module is the contract alone).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from seqd.errors import Conflict, StorageUnavailable, ValidationFailed
from seqd.model.alerts import AlertEvent, NewAlertEvent
from seqd.model.nodes import Node, NodeInfo, Note
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


@dataclass(frozen=True)
class StorageContext:
    """What a backend may know about the daemon that opens it."""

    state_dir: str
    durability: str
    """``normal`` (survives a process crash) or ``full`` (also survives power loss)."""


class StoreHeld(StorageUnavailable):
    """``claim``: another live process holds the store. ``pid`` (and ``host`` when the
    store is reached over a network) say who, as far as the store can tell."""

    def __init__(self, location: str, pid: int | None, host: str | None = None) -> None:
        super().__init__(
            f"another seqd ({holder_text(pid, host)}) holds the store at {location}",
            {"location": location, "pid": pid, "host": host},
        )
        self.location = location
        self.pid = pid
        self.host = host


def holder_text(pid: int | None, host: str | None = None) -> str:
    """How messages name the process holding a store or a socket: ``pid 1234``,
    ``pid 1234 on db-host``, ``pid unknown``."""
    who = f"pid {pid}" if pid is not None else "pid unknown"
    return f"{who} on {host}" if host else who


@runtime_checkable
class StorageBackend(Protocol):
    name: str
    location: str
    """Where the data lives, for humans (a path, or a DSN without its password)."""

    async def claim(self) -> None:
        """Take the store for this process alone, before ``open``: the daemon (and
        ``seqd import``) call it first, so that a second daemon is refused before it
        migrates or recovers anything. Raise ``StoreHeld`` when another live process
        holds it. The claim lasts until ``close`` or the end of the process, however
        it ends: it must be something the OS or the server drops with the process (a
        ``flock``ed file, a database session lock), never a lease a crash leaves
        behind. A process that opens without claiming (``seqd export``) only reads.
        A store shared by nodes (``SharedQueue``) claims nothing here: each run is held
        by one node instead, under a lease."""

    async def open(self) -> None:
        """Create or migrate the schema and get ready; called once before any other
        (but ``claim``)."""

    async def close(self) -> None:
        """Flush pending writes and release resources; no call follows."""

    async def create_run(self, run: Run) -> tuple[Run, int]:
        """Insert ``run``; return it with the change position of the insert (≥ 1). If
        its ``idempotency_key`` is already taken in its ``idempotency_scope`` (a key is
        unique per scope, not across scopes), insert nothing and return the existing
        run with 0 (so the second member is false exactly when nothing was created). A
        key without a scope is refused (``ValidationFailed``), here and in
        ``update_run``.

        Every run write (this, ``create_runs`` and ``update_run``) takes the store's
        next change position in the same transaction, in commit order: a reader that
        sees position P has seen every write before it. ``run_changes`` lists them."""

    async def create_runs(self, runs: Sequence[Run]) -> list[tuple[Run, int]]:
        """Insert ``runs`` in one transaction: all of them or none, also across a crash;
        each new run with the change position of its insert.

        A run whose ``idempotency_key`` is taken by a stored run of the same task and
        input is not inserted: its place in the answer holds the stored run with 0, as
        ``create_run`` would answer. A key taken by a run of another task or input, a
        key given twice in ``runs``, or an id that is already stored fails the whole
        call with ``Conflict`` (``details.index`` says which run) and inserts nothing
        (``seqd.plugins.storage_kit.batches`` has these checks)."""

    async def import_run(
        self, run: Run, logs: Sequence[NewLogLine], steps: Sequence[NewStep]
    ) -> bool:
        """Insert ``run`` with its log lines and its journal entries (each numbered
        from 1, in order) in one transaction: all of it or none, also across a crash
        (``seqd import`` writes a run this way, so an interrupted import run again
        never finds a run without its logs). Return False, writing nothing, when its
        id or its idempotency key (in its scope) is already stored. Takes a change
        position like ``create_run``."""

    async def update_run(self, run: Run, expect: Sequence[RunStatus] | None = None) -> int:
        """Replace the stored record of ``run.id`` with ``run``; return the write's
        change position (≥ 1), or 0 when nothing was written.

        With ``expect``, only if the stored status is one of them (compare-and-set:
        a stale writer can never move a finished run backwards). 0 also when the run
        does not exist.
        """

    async def get_run(self, run_id: str) -> Run | None: ...

    async def list_runs(self, query: RunQuery) -> RunPage:
        """Newest first (by id), only those matching every filter set (``task``,
        ``status``, ``parent_id``, ``schedule``); ``roots_only`` leaves out every run that
        has a parent. ``cursor`` is the last id of the previous page."""

    async def runs_by_prefix(self, prefix: str, limit: int) -> list[Run]:
        """Runs whose id starts with ``prefix``, newest first, at most ``limit``: a range
        scan on the id (``storage_kit.records.prefix_bounds``), whatever the history."""

    async def count_children(self, run_ids: Sequence[str]) -> dict[str, int]:
        """How many runs have each of ``run_ids`` as their ``parent_id``, in one query
        (not one per id); ids without children may be left out."""

    async def count_by_status(self) -> dict[str, int]:
        """Number of runs per status; statuses with no runs may be left out."""

    async def unfinished_runs(self) -> list[Run]:
        """Every run whose status is queued, running or suspended, oldest first."""

    async def prune_runs(self, query: PruneQuery) -> PruneBatch:
        """One batch of retention (``seqd.model.retention``): examine at most
        ``query.limit`` runs of ``query.status`` by id after ``query.after``; of those
        that root a tree (no parent, or one that is gone) and match the query, remove
        each tree whose runs are all finished — its runs, their logs and journals, and
        free their idempotency keys — atomically per tree: a tree is checked and
        removed in one step, so a run that starts or changes meanwhile keeps its tree.
        With ``dry_run`` count the same and remove nothing."""

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

    async def append_alert_event(self, event: NewAlertEvent) -> int:
        """Store one change of an alert's state; durable when this returns. Returns
        its seq: larger than every seq stored before, across all rules."""

    async def list_alert_events(
        self, rule: str | None = None, before: int | None = None, limit: int = 100
    ) -> list[AlertEvent]:
        """Alert events newest first (by seq): only ``rule``'s when given, only seqs
        below ``before`` when given (the last seq of the previous page), at most
        ``limit``."""

    async def save_schedule(self, schedule: Schedule) -> None:
        """Insert ``schedule``, or replace the stored one of the same ``name``; durable
        when this returns (the scheduler moves a schedule's cursor with it)."""

    async def get_schedule(self, name: str) -> Schedule | None:
        """The schedule named ``name``, or None."""

    async def list_schedules(self) -> list[Schedule]:
        """Every schedule, by name (compared as UTF-8 bytes / code points)."""

    async def delete_schedule(self, name: str) -> bool:
        """Remove the schedule (its runs stay); whether it existed."""


class LeaseLost(Conflict):
    """A write for a run this node no longer holds: another node took it over (this
    one was paused, or cut off, past its lease). Nothing was written."""

    def __init__(self, run_id: str) -> None:
        super().__init__(
            f"run {run_id} was taken over by another node; this node no longer writes it",
            {"id": run_id},
        )


@runtime_checkable
class SharedQueue(Protocol):
    """What a backend that several daemons (nodes) may share offers besides
    ``StorageBackend``, as its attribute ``shared`` (``shared_queue``). PostgreSQL is
    shareable (unless ``cluster = false``); SQLite and the file store are not: their
    store lock keeps them to one daemon, and they have no ``shared``.

    Runs are then not queued in the memory of the node that accepted them: each node
    ``claim``s stored queued runs for its free slots, so a run accepted anywhere runs
    once, on some node. A claimed run is *held* by the node under a lease (node and
    epoch): the backend checks it on every write of the run (``update_run``,
    ``append_steps``, ``append_logs``) and refuses a write of a run another node took
    over (``update_run`` writes nothing and returns 0, an append raises ``LeaseLost``).
    The node renews its leases with a heartbeat; those of a node whose heartbeat stopped
    for ``lease_s`` are taken over by another (``take_over``). Nodes hear of each other
    through ``Note``s (``notify``)."""

    node_id: str
    lease_s: float
    nodes_alive: int
    """Nodes whose lease runs, as of this node's last heartbeat."""

    async def join(self, info: NodeInfo, on_note: Callable[[Note], None]) -> None:
        """Register this node, start its heartbeat, and hand every note heard (from
        other nodes, or ``dead`` / ``lost`` from the heartbeat) to ``on_note``."""

    async def leave(self) -> None:
        """Stop the heartbeat, give unstarted runs back to the queue, and end this
        node's lease now (its unfinished runs are taken over at once, not after
        ``lease_s``)."""

    def offer(self, room: Callable[[str], int]) -> None:
        """``room(task)``: how many runs of ``task`` this node could start now. While
        there is room, a run this node creates is stored held by it (no claim, no
        note): the engine then ``take_fresh``es it."""

    def wants_new(self, task: str) -> bool:
        """Whether a run of ``task`` created now is to be held by this node (the
        backend asks)."""

    def fresh(self, run_id: str) -> None:
        """The backend stored ``run_id`` held by this node."""

    def take_fresh(self, run_id: str) -> bool:
        """Whether ``run_id`` was just created held by this node (once per run)."""

    async def claim(self, limit: int, limits: Mapping[str, int]) -> list[Run]:
        """Hold at most ``limit`` queued runs that no node holds, highest priority first,
        then the oldest; of a task in ``limits`` only as many as leave fewer than its
        limit held cluster-wide."""

    async def transitions(self, after: int, limit: int) -> list[RunChange]:
        """Every run write of every node after change position ``after``, in position
        (commit) order, at most ``limit``: each with the run as that write left it, so
        that a node's event feed sees each transition. Writes older than the store
        keeps come as the run is now (as ``run_changes`` gives them), never not at all."""

    async def take_over(self) -> list[Run]:
        """Hold every unfinished run of nodes whose lease ran out (and of none); the
        caller recovers them as a restart would."""

    def holds(self, run_id: str) -> bool:
        """Whether this node holds ``run_id`` (as far as it knows: a takeover it has
        not heard of yet shows at its next write, which is refused)."""

    def release(self, run_id: str) -> None:
        """Forget the lease of a run that ended here (no more writes are fenced)."""

    async def notify(self, note: Note) -> None:
        """Tell every node of the store (this one included)."""

    async def nodes(self) -> list[Node]:
        """Every node row, by id."""


def shared_queue(backend: object) -> SharedQueue | None:
    """The backend's ``SharedQueue`` once open, or None: it runs single-node."""
    shared = getattr(backend, "shared", None)
    return shared if isinstance(shared, SharedQueue) else None


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
    check_name("namespace", namespace, MAX_KV_NAMESPACE)
    if key is not None:
        check_name("key", key, MAX_KV_KEY)


MAX_SCHEDULE_NAME = 300


def check_name(field: str, value: object, limit: int) -> None:
    """What every backend accepts as a name (a kv namespace or key, a schedule's name):
    non-empty UTF-8 text without NUL, of at most ``limit`` characters."""
    ok = isinstance(value, str) and 0 < len(value) <= limit and "\x00" not in value
    if ok:
        try:
            str(value).encode("utf-8")
        except UnicodeEncodeError:
            ok = False
    if not ok:
        raise ValidationFailed(
            f"{field} must be 1 to {limit} characters of UTF-8 text without NUL",
            {"field": field},
        )
