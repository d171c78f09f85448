"""The timer loop: every schedule's next fire on one alarm, and what a fire does.

A fire is a run submitted through the engine with the idempotency key
``schedule:<name>@<nominal time>``, and only then is the schedule's cursor moved past
that time (``save_schedule``). So after a crash at any moment the store holds either
the run and the old cursor — the fire is done again, and the key hands back the run
made the first time — or both: never a lost fire, never a doubled one. At start-up
(and after a storage outage) each schedule is ``advance``d from its cursor: fires
older than ``misfire_grace_s`` were missed and its misfire policy chooses which run;
fires due now run; the next one is armed on the ``Alarm``. Nothing wakes up between
fires.

Each schedule has a lock: its fires, its queue and changes to it (``operations``)
happen one at a time, so its record here is the stored one. What happened is reported
through ``events.Reporter``, nowhere else.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Any

from msgspec.structs import replace

from seqd.catalog.catalog import Catalog
from seqd.engine import Engine
from seqd.errors import Conflict, NotFound, NotRunnable, SeqdError, ValidationFailed
from seqd.model import timeutil
from seqd.model.runs import Run, RunQuery
from seqd.model.schedules import Schedule
from seqd.model.scopes import SYSTEM_SCOPE
from seqd.model.status import UNFINISHED
from seqd.plugins.storage import StorageBackend
from seqd.scheduler import times, zones
from seqd.scheduler.entries import Entry, fire_key, had_run, next_fire, seconds_of, text_of
from seqd.scheduler.events import EventKind, Listener, Reporter
from seqd.scheduler.policies import on_overlap, to_run_after_misfire
from seqd.scheduler.spec import Plan, compile_plan
from seqd.scheduler.timer import Alarm

logger = logging.getLogger("seqd.scheduler")

MAX_QUEUED = 100
"""Fires an ``overlap: queue`` schedule keeps waiting at most; later ones are skipped."""
CONCURRENT_FIRES = 32
RETRY_MAX_S = 60.0


class Scheduler:
    def __init__(
        self,
        *,
        storage: StorageBackend,
        engine: Engine,
        catalog: Catalog,
        zone: str | None,
        misfire_grace_s: float,
        on_event: Listener | None = None,
    ) -> None:
        self.storage = storage
        self.engine = engine
        self.catalog = catalog
        self.configured_zone = zone
        self.zone = zone or "UTC"
        """The daemon's zone: schedules without ``tz`` are read in it."""
        self.grace_s = misfire_grace_s
        self.entries: dict[str, Entry] = {}
        self.reporter = Reporter(on_event)
        self.alarm = Alarm(self._ring)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._slots = asyncio.Semaphore(CONCURRENT_FIRES)
        self._stopping = False
        self.sync_lock = asyncio.Lock()
        """Held by ``configured.sync``: one reload's changes at a time."""

    # -- start and stop ---------------------------------------------------------------

    async def start(self) -> None:
        """Find the daemon's zone and load every schedule (``kick_all`` then brings
        each up to date: misfires, due fires, its timer)."""
        if self.configured_zone is None:
            self.zone = await asyncio.to_thread(zones.machine_zone)
        else:
            await asyncio.to_thread(zones.load, self.configured_zone)
        records = await self.storage.list_schedules()
        compiled = await asyncio.to_thread(lambda: [self.compile(r) for r in records])
        for record, (plan, problem) in zip(records, compiled, strict=True):
            self.entries[record.name] = Entry(record, plan, problem)
            if problem is not None:
                logger.error("schedule %s cannot fire: %s", record.name, problem)
        logger.info("scheduler: %d schedule(s), zone %s", len(records), self.zone)

    def kick_all(self) -> None:
        """Bring every schedule up to date. One with nothing due or missed before its
        next fire (the usual case at start-up) only has its timer armed, here; the
        others are handled in tasks (``kick``)."""
        now = time.time()
        for name, entry in list(self.entries.items()):
            if entry.record.queued:
                self.start_drain(entry)
            due = self._quiet_until(entry, now)
            if due is None:
                self.kick(name)
            elif due != math.inf:
                self.alarm.set(name, due)

    def _quiet_until(self, entry: Entry, now: float) -> float | None:
        """When ``entry`` next needs the scheduler (``inf``: never) if nothing of it is
        due or missed now, else None."""
        if entry.plan is None or entry.record.paused:
            return math.inf
        following = next_fire(entry.record, entry.plan)
        if following is None:
            return math.inf
        return following[1] if following[1] > now else None

    def compile(self, record: Schedule) -> tuple[Plan | None, str | None]:
        """The plan of a stored record, or why there is none (may read zone files)."""
        try:
            created = seconds_of(record.created_at)
            return compile_plan(record, created=created, default_zone=self.zone), None
        except (SeqdError, ValueError) as exc:
            return None, getattr(exc, "message", str(exc))

    async def stop(self, grace_s: float) -> None:
        """No more fires; let those in progress finish (a fire is short) for ``grace_s``."""
        self._stopping = True
        self.alarm.stop()
        for entry in self.entries.values():
            if entry.drain is not None:
                entry.drain.cancel()
        pending = [t for t in self._tasks if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=grace_s)

    @property
    def stopping(self) -> bool:
        return self._stopping

    # -- the timer --------------------------------------------------------------------

    def _ring(self, names: list[str]) -> None:
        for name in names:
            self.kick(name)

    def kick(self, name: str) -> None:
        """Bring schedule ``name`` up to date soon (in its own task)."""
        if not self.stopping:
            self.spawn(self._step(name))

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _step(self, name: str) -> None:
        async with self._slots:
            entry = self.entries.get(name)
            if entry is None:
                return
            async with entry.lock:
                if self.entries.get(name) is not entry or self.stopping:
                    return  # deleted or replaced meanwhile, or stopping
                try:
                    await self.advance(entry)
                    entry.retry_s = 0.0
                except Exception as exc:
                    entry.retry_s = min(max(1.0, entry.retry_s * 2), RETRY_MAX_S)
                    logger.error(
                        "schedule %s: %s; trying again in %gs",
                        name, getattr(exc, "message", None) or repr(exc), entry.retry_s,
                    )  # fmt: skip
                    self.alarm.set(name, time.time() + entry.retry_s)

    # -- bringing a schedule up to date (holding its lock) -----------------------------

    async def advance(self, entry: Entry) -> None:
        """Handle what is due of ``entry`` (missed fires, then fires due now) and arm
        its next fire. Raises when storage fails, leaving the cursor where it was."""
        name, plan = entry.record.name, entry.plan
        self.alarm.clear(name)
        if plan is None or entry.record.paused:
            return
        timing = plan.timing
        cursor = seconds_of(entry.record.cursor)
        missed_up_to = math.floor(time.time() - self.grace_s - plan.jitter_s)
        if missed_up_to > cursor:
            # Only as far back as the policy may reach, and one more to tell "more".
            reach = entry.record.catch_up if entry.record.misfire == "catch_up" else 1
            missed = timing.latest(missed_up_to, cursor, reach + 1)
            if missed:
                await self._misfired(entry, missed, reach)
        while not self.stopping:
            following = next_fire(entry.record, plan)
            if following is None:
                return  # no more fires: ``at`` passed, or ``end``
            nominal, due = following
            if due > time.time():
                self.alarm.set(name, due)
                return
            await self.fire(entry, nominal)

    async def _misfired(self, entry: Entry, missed: list[int], reach: int) -> None:
        """``missed``: the latest missed fires, oldest first; ``reach + 1`` of them
        when there were more than ``reach`` (how far back the policy may go)."""
        record = entry.record
        chosen = to_run_after_misfire(record.misfire, missed[-reach:], record.catch_up)
        self.reporter.report(
            "misfired",
            record.name,
            nominal=text_of(missed[-1]),
            missed=len(missed),
            more=len(missed) > reach,
            ran=len(chosen),
            reason=f"misfire policy {record.misfire}: {len(chosen)} of them run now",
        )
        for nominal in chosen:
            await self.fire(entry, nominal)
        if seconds_of(entry.record.cursor) < missed[-1]:
            await self.save(entry, cursor=text_of(missed[-1]))

    async def fire(self, entry: Entry, seconds: int) -> None:
        """The fire for ``seconds``: a run, or a skip or a place in the queue as the
        overlap policy says; then the cursor moves past it."""
        record = entry.record
        nominal = text_of(seconds)
        previous = None if record.overlap == "allow" else await self.newest_run(record.name)
        decision = on_overlap(record.overlap, previous, nominal, bool(record.queued))
        if decision == "fire":
            await self.submit(entry, nominal)
        elif decision == "done":
            had_run(record.name, nominal, previous)
        elif decision == "skip":
            assert previous is not None
            reason = f"the previous run {previous.id} is still {previous.status}"
            self.reporter.report("skipped", record.name, nominal=nominal, reason=reason)
        elif decision == "queue":
            if len(record.queued) >= MAX_QUEUED:
                reason = f"{MAX_QUEUED} fires already wait for the previous run"
                self.reporter.report("skipped", record.name, nominal=nominal, reason=reason)
            else:
                await self.save(entry, cursor=nominal, queued=[*record.queued, nominal])
                why = "the previous run is unfinished"
                self.reporter.report("queued", record.name, nominal=nominal, reason=why)
                self.start_drain(entry)
                return
        await self.save(entry, cursor=nominal)

    async def submit(
        self, entry: Entry, nominal: str, *, trigger_by: int | None = None
    ) -> Run | None:
        """Start the run of ``entry`` for ``nominal`` (None when the engine refused it:
        reported as ``failed``). A triggered run (``trigger_by``) has no key."""
        record = entry.record
        key = None if trigger_by is not None else fire_key(record.name, nominal)
        asked = timeutil.now()
        try:
            run = await asyncio.shield(
                self.engine.submit(
                    record.task,
                    record.input,
                    idempotency_key=key,
                    idempotency_scope=SYSTEM_SCOPE,  # fires are the daemon's, whoever owns it
                    submitted_by=record.created_by if trigger_by is None else trigger_by,
                    schedule=record.name,
                    scheduled_for=nominal,
                )
            )
        except Conflict as exc:
            if exc.details.get("field") != "idempotency_key":
                raise
            # The run of this fire exists, with the input of before a change.
            had_run(record.name, nominal, None)
            return None
        except (NotFound, NotRunnable, ValidationFailed) as exc:
            if trigger_by is not None:
                raise
            self.reporter.report("failed", record.name, nominal=nominal, reason=exc.message)
            return None
        if run.created_at >= asked:
            kind: EventKind = "fired" if trigger_by is None else "triggered"
            self.reporter.report(kind, record.name, nominal=nominal, run_id=run.id)
        else:
            had_run(record.name, nominal, run)
        return run

    async def save(self, entry: Entry, **changes: Any) -> None:
        """Store ``entry``'s record with ``changes``; then it is the one held here."""
        record = replace(entry.record, **changes)
        await self.storage.save_schedule(record)
        entry.record = record

    async def newest_run(self, name: str) -> Run | None:
        page = await self.engine.list(RunQuery(schedule=name, limit=1))
        return page.runs[0] if page.runs else None

    # -- the queue of ``overlap: queue`` ---------------------------------------------

    def start_drain(self, entry: Entry) -> None:
        if entry.drain is None or entry.drain.done():
            entry.drain = self.spawn(self._drain(entry))

    async def _drain(self, entry: Entry) -> None:
        """Start the queued fires one after the other, each once the run before it ended."""
        name = entry.record.name
        backoff = 0.0
        while not self.stopping:
            try:
                waiting = await self._next_queued(entry)
                backoff = 0.0
            except Exception as exc:
                backoff = min(max(1.0, backoff * 2), RETRY_MAX_S)
                logger.error("schedule %s: queue: %r; again in %gs", name, exc, backoff)
                await asyncio.sleep(backoff)
                continue
            if waiting is None:
                return
            await self.engine.wait(waiting, None)

    async def _next_queued(self, entry: Entry) -> str | None:
        """Start the first queued fire if nothing runs; the run to wait for if one does;
        None when the queue is done (or the schedule gone or paused)."""
        async with entry.lock:
            while self.entries.get(entry.record.name) is entry and not entry.record.paused:
                queued = entry.record.queued
                if not queued:
                    return None
                previous = await self.newest_run(entry.record.name)
                behind = previous is not None and previous.scheduled_for != queued[0]
                if behind and previous is not None and previous.status in UNFINISHED:
                    return previous.id
                if previous is None or previous.scheduled_for != queued[0]:
                    await self.submit(entry, queued[0])
                await self.save(entry, queued=queued[1:])
            return None

    # -- for ``operations`` and ``configured`` ------------------------------------------

    def put(self, record: Schedule, plan: Plan | None, problem: str | None = None) -> Entry:
        """Hold ``record`` as schedule ``record.name`` (a new entry, with a new lock)."""
        old = self.entries.get(record.name)
        if old is not None and old.drain is not None:
            old.drain.cancel()
        entry = self.entries[record.name] = Entry(record, plan, problem)
        self.alarm.clear(record.name)
        self.kick(record.name)
        if record.queued:
            self.start_drain(entry)
        return entry

    def forget(self, name: str) -> None:
        entry = self.entries.pop(name, None)
        self.alarm.clear(name)
        if entry is not None and entry.drain is not None:
            entry.drain.cancel()

    def upcoming(self, entry: Entry, n: int) -> list[str]:
        """The next ``n`` nominal fire times of ``entry`` (RFC 3339 UTC); for a paused
        one, those after now (where a resume starts)."""
        if entry.plan is None:
            return []
        after = seconds_of(entry.record.cursor)
        if entry.record.paused:
            after = max(after, math.floor(time.time()))
        return [text_of(t) for t in times.upcoming(entry.plan.timing, after, n)]
