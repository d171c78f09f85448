"""The run engine: accepting runs, the queue, concurrency, the run state machine,
timeouts, cancellation, retries, recovery after a restart and graceful shutdown.

Durability rule: every state change is written to storage (compare-and-set on the
previous status) before it is acted on or reported. Runs are immutable snapshots:
a transition makes a new ``Run``, so a value handed to storage never changes under it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from msgspec.structs import replace

from seqd.catalog.catalog import Catalog
from seqd.config.settings import Config
from seqd.errors import (
    Conflict,
    NotFound,
    ShuttingDown,
    StorageUnavailable,
    Suspended,
    TaskFailed,
    ValidationFailed,
)
from seqd.model import timeutil
from seqd.model.ids import IdGenerator
from seqd.model.runs import NewLogLine, NewStep, Run, RunError, RunPage, RunQuery, RunStatus
from seqd.model.status import TERMINAL
from seqd.model.tasks import RetryPolicy
from seqd.plugins.host import PluginHost
from seqd.plugins.storage import StorageBackend
from seqd.plugins.tools import ToolCaller
from seqd.plugins.tracing import RunTransition

if TYPE_CHECKING:
    from seqd.tools.service import ToolService

from .job import ActiveJob
from .orphans import end_orphans
from .queue import RunQueue
from .runlog import RunLog
from .validation import check_owner, check_size
from .wakeups import Wakeups

logger = logging.getLogger(__name__)


async def _ended(task: asyncio.Task[Any]) -> None:
    """Wait until ``task`` has ended, however it ended; if we are cancelled meanwhile,
    ``task`` is not (``asyncio.wait([task])`` without its sets and callbacks)."""
    if task.done():
        return
    waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def wake(_task: object) -> None:
        if not waiter.done():  # we were cancelled meanwhile
            waiter.set_result(None)

    task.add_done_callback(wake)
    await waiter


class Engine:
    def __init__(
        self,
        *,
        storage: StorageBackend,
        catalog: Catalog,
        host: PluginHost,
        config: Config,
        state_dir: str,
        node: str,
    ) -> None:
        self.storage = storage
        self.catalog = catalog
        self.host = host
        self.config = config
        self.node = node
        self.work_root = os.path.join(state_dir, "work")
        self.ids = IdGenerator()
        self.max_workers = config.workers
        self.live: dict[str, Run] = {}
        self.queue = RunQueue()
        """Runs waiting for a worker slot."""
        self.free_queue = RunQueue()
        """Runs of task types that hold no worker (flows): they only coordinate child
        runs, so they start at once — never behind the runs they wait for."""
        self._holding: set[str] = set()
        """Runs holding one of the ``max_workers`` slots."""
        self.active: dict[str, ActiveJob | None] = {}
        self.per_task: Counter[str] = Counter()
        self.accepting = True
        self.dispatching = True
        self._done: dict[str, asyncio.Future[Run]] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        """Retry back-off timers (and start retries while storage is away)."""
        self._timeouts: dict[str, asyncio.TimerHandle] = {}
        self._pending_cancel: dict[str, tuple[str, str]] = {}
        self._start_failed: set[str] = set()
        """Runs whose start was reported as failed by storage (it may have committed)."""
        self._executions: set[asyncio.Task[None]] = set()
        self.tools: ToolService | None = None
        self.wakeups = Wakeups(self._wake_soon)
        self._wakings: set[asyncio.Task[None]] = set()
        """Set by the app once the tool service is up."""

    # -- reporting -------------------------------------------------------------------

    def _emit(self, run: Run, previous: str | None, reason: str | None = None) -> None:
        if not self.host.wants(RunTransition):
            return
        self.host.emit(
            RunTransition(
                ts=timeutil.now(),
                run_id=run.id,
                task=run.task,
                from_status=previous,
                to_status=run.status,
                reason=reason,
            )
        )

    def stats(self) -> dict[str, int]:
        return {
            "max": self.max_workers,
            "busy": len(self._holding),
            "queued": len(self.queue),
            "coordinating": len(self.active) - len(self._holding),
        }

    # -- accepting -------------------------------------------------------------------

    async def submit(
        self,
        task: str,
        data: dict[str, Any],
        *,
        idempotency_key: str | None = None,
        priority: int = 0,
        submitted_by: int | None = None,
        parent_id: str | None = None,
        root_id: str | None = None,
        retry_of: str | None = None,
    ) -> Run:
        if not self.accepting:
            raise ShuttingDown("the daemon is shutting down; no new runs are accepted")
        entry = await self.catalog.runnable(task)
        data = self.catalog.check_input(entry, data)
        check_size("input", data, self.config.limits.max_input_bytes)
        run_id = self.ids.new()
        run = Run(
            id=run_id,
            task=task,
            status="queued",
            input=data,
            parent_id=parent_id,
            root_id=root_id or run_id,
            task_version=entry.definition.version,
            priority=priority,
            idempotency_key=idempotency_key,
            created_at=timeutil.now(),
            node=self.node,
            submitted_by=submitted_by,
            retry_of=retry_of,
        )
        stored, created = await self.storage.create_run(run)
        if not created:
            if stored.task != task or stored.input != data:
                raise Conflict(
                    f"idempotency key {idempotency_key!r} was already used for run "
                    f"{stored.id} of task {stored.task!r} with another input",
                    {"id": stored.id, "task": stored.task, "field": "idempotency_key"},
                )
            return stored
        self.live[run.id] = run
        self._emit(run, None)
        self._enqueue(run)
        self._schedule()
        return run

    # -- reading ---------------------------------------------------------------------

    async def get(self, run_id: str) -> Run:
        run = self.live.get(run_id)
        if run is not None:
            return run
        stored = await self.storage.get_run(run_id)
        if stored is None:
            raise NotFound(f"no run with id {run_id}", {"id": run_id})
        return stored

    async def list(self, query: RunQuery) -> RunPage:
        return await self.storage.list_runs(query)

    async def wait(self, run_id: str, timeout_s: float | None) -> Run:
        run = self.live.get(run_id)
        if run is None:
            stored = await self.get(run_id)
            if stored.status in TERMINAL:
                return stored
        future = self._done.get(run_id)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._done[run_id] = future
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout_s)
        except TimeoutError:
            return await self.get(run_id)

    # -- scheduling ------------------------------------------------------------------

    def _saturated(self, task: str) -> bool:
        entry = self.catalog.entries.get(task)
        limit = entry.definition.concurrency if entry is not None else None
        return limit is not None and self.per_task[task] >= limit

    def _holds_worker(self, task: str) -> bool:
        entry = self.catalog.entries.get(task)
        if entry is None or entry.source is None:
            return True
        task_type = self.host.task_types.get(entry.source.type)
        return bool(getattr(task_type, "uses_worker", True))

    def _enqueue(self, run: Run) -> None:
        queue = self.queue if self._holds_worker(run.task) else self.free_queue
        queue.push(run.id, run.task, run.priority)

    def _schedule(self) -> None:
        while self.dispatching:
            item = self.free_queue.pop(self._saturated)
            if item is None:
                break
            self._launch(*item, holds_worker=False)
        while self.dispatching and len(self._holding) < self.max_workers:
            item = self.queue.pop(self._saturated)
            if item is None:
                return
            self._launch(*item, holds_worker=True)

    def _launch(self, run_id: str, task: str, *, holds_worker: bool) -> None:
        run = self.live.get(run_id)
        if run is None or run.status != "queued":
            return
        self.active[run_id] = None
        if holds_worker:
            self._holding.add(run_id)
        self.per_task[task] += 1
        execution = asyncio.get_running_loop().create_task(self._execute(run))
        self._executions.add(execution)
        execution.add_done_callback(self._executions.discard)

    async def _execute(self, run: Run) -> None:
        try:
            await self._execute_inner(run)
        except Exception as exc:
            logger.exception("run %s: engine failure", run.id)
            await self._fail_internally(run.id, exc)
        finally:
            self.active.pop(run.id, None)
            self._holding.discard(run.id)
            self.per_task[run.task] -= 1
            if self.per_task[run.task] <= 0:
                del self.per_task[run.task]
            self.queue.release(run.task)
            self.free_queue.release(run.task)
            self._schedule()

    async def _execute_inner(self, run: Run) -> None:
        entry = self.catalog.entries.get(run.task)
        if entry is None or not entry.runnable or entry.source is None:
            why = "it no longer exists" if entry is None else "its definition is invalid"
            await self._finish(
                run,
                "failed",
                error=RunError(type="not_runnable", message=f"task {run.task!r}: {why}"),
                expect=("queued",),
            )
            return
        source = entry.source
        task_type = self.host.task_types.get(source.type)
        if task_type is None:
            await self._finish(
                run,
                "failed",
                error=RunError(type="not_runnable", message=f"no task type {source.type!r}"),
                expect=("queued",),
            )
            return
        started = replace(
            run,
            status="running",
            started_at=timeutil.now(),
            task_version=source.version,
            node=self.node,
        )
        try:
            if not await self.storage.update_run(started, expect=("queued",)):
                if run.id not in self._start_failed:
                    return  # cancelled (or taken) while it waited for its slot
                # An earlier start was reported failed but committed: it is ours.
                stored = await self.storage.get_run(run.id)
                if stored is None or stored.status != "running":
                    return
                if not await self.storage.update_run(started, expect=("running",)):
                    return
            self._start_failed.discard(run.id)
        except StorageUnavailable as exc:
            self._start_failed.add(run.id)
            logger.warning("run %s: cannot start, storage unavailable: %s", run.id, exc)
            self._timers[run.id] = asyncio.get_running_loop().call_later(
                1.0, self._release_retry, run.id
            )
            return
        self.live[run.id] = started
        self._emit(started, "queued")
        log = RunLog(self.storage, run.id, self.config.limits.log_cap_bytes)
        job = ActiveJob(started, source, os.path.join(self.work_root, run.id), log, self)
        self.active[run.id] = job
        timeout = entry.definition.timeout_s
        if timeout is not None:
            self._timeouts[run.id] = asyncio.get_running_loop().call_later(
                timeout, self._interrupt, run.id, "timeout", f"timed out after {timeout:g}s"
            )
        job.execution = asyncio.get_running_loop().create_task(task_type.execute(job))
        pending = self._pending_cancel.pop(run.id, None)
        if pending is not None:
            self._interrupt(run.id, *pending)
        await _ended(job.execution)
        handle = self._timeouts.pop(run.id, None)
        if handle is not None:
            handle.cancel()
        await self._conclude(job, entry.definition.retries)
        if os.path.isdir(job.work_path):  # noqa: ASYNC240 - one stat beats a thread hop
            await asyncio.to_thread(shutil.rmtree, job.work_path, True)

    async def _fail_internally(self, run_id: str, exc: Exception) -> None:
        """A bug or an unexpected error must not leave a run unfinished forever:
        record it as failed (type ``internal``) once, and wake its waiters."""
        handle = self._timeouts.pop(run_id, None)
        if handle is not None:
            handle.cancel()
        current = self.live.get(run_id)
        if current is None or current.status in TERMINAL:
            return
        error = RunError(
            type="internal", message=f"the daemon failed running it: {type(exc).__name__}"
        )
        try:
            await self._finish(current, "failed", error=error, expect=("queued", "running"))
        except Exception:
            logger.exception("run %s: could not record the failure", run_id)

    def note_pid(self, run_id: str, pid: int | None) -> None:
        # Shown by runs.get while the run lives; not written to storage: after a crash
        # the run's processes are found by the SEQD_RUN_ID in their environment.
        current = self.live.get(run_id)
        if current is not None and current.status == "running":
            self.live[run_id] = replace(current, pid=pid)

    async def call_tool(
        self, run: Run, name: str, params: dict[str, Any], log: Callable[[str, str], None]
    ) -> Any:
        """A tool called by a run (a flow state, ``ctx.tool``): the run's scopes, rate
        limits and trace event apply; its log lines go to the run's log."""
        if self.tools is None:
            raise ShuttingDown("tools are not available yet")
        caller = ToolCaller(kind="run", run_id=run.id, task=run.task, root_id=run.root_id)
        return await self.tools.call(name, params, caller, log=log)

    async def _conclude(self, job: ActiveJob, policy: RetryPolicy) -> None:
        execution = job.execution
        assert execution is not None
        run = self.live.get(job.run.id, job.run)
        log = job.runlog
        output: Any = None
        error: RunError | None = None
        status: RunStatus = "succeeded"
        if execution.cancelled():
            kind, message = job.cancel_reason or ("cancelled", "cancelled")
            if kind == "shutdown":
                log.system(message)
                await log.flush()
                await self._requeue_after_interrupt(run)
                return
            status = "cancelled" if kind == "cancelled" else "failed"
            error = RunError(type=kind, message=message)
        elif isinstance(exc := execution.exception(), Suspended):
            await log.flush()
            await self._suspend(run, exc, job)
            return
        elif exc is not None:
            status = "failed"
            if isinstance(exc, TaskFailed):
                error = RunError(type=exc.type, message=exc.message, details=exc.details)
            else:
                logger.error("run %s: task type %s raised", run.id, job.task.type, exc_info=exc)
                error = RunError(
                    type="internal",
                    message=f"task type {job.task.type!r} failed: {type(exc).__name__}: {exc}",
                )
        else:
            output = execution.result()
            try:
                check_size("output", output, self.config.limits.max_input_bytes)
            except (ValidationFailed, TypeError) as exc:
                status, output = "failed", None
                error = RunError(type="invalid_output", message=str(exc))
        retry = status == "failed" and error is not None and run.attempt <= policy.max
        if retry and job.cancel_reason is not None and job.cancel_reason[0] == "cancelled":
            # Cancelled while this attempt was ending: no further attempt.
            retry, status = False, "cancelled"
            error = RunError(type="cancelled", message=job.cancel_reason[1])
        if retry and error is not None:
            delay = policy.backoff_s * policy.factor ** (run.attempt - 1)
            log.system(
                f"attempt {run.attempt} failed ({error.type}: {error.message}); "
                f"retrying in {delay:g}s"
            )
            await log.flush()
            if job.cancel_reason is None or job.cancel_reason[0] != "cancelled":
                await self._retry(run, delay, job)
                return
            status, error = "cancelled", RunError(type="cancelled", message=job.cancel_reason[1])
        await log.flush()
        await self._finish(run, status, output=output, error=error, expect=("running",), job=job)

    async def _retry(self, run: Run, delay: float, job: ActiveJob) -> None:
        again = replace(
            run,
            status="queued",
            attempt=run.attempt + 1,
            started_at=None,
            pid=None,
            resources=job.resources,
        )
        if not await self._store(again, ("running",)):
            return
        self.live[run.id] = again
        self._emit(again, "running", "retry")
        self._timers[run.id] = asyncio.get_running_loop().call_later(
            delay, self._release_retry, run.id
        )

    def _release_retry(self, run_id: str) -> None:
        self._timers.pop(run_id, None)
        run = self.live.get(run_id)
        if run is not None and run.status == "queued":
            self._enqueue(run)
            self._schedule()

    async def _requeue_after_interrupt(self, run: Run) -> None:
        again = replace(run, status="queued", started_at=None, pid=None)
        if await self._store(again, ("running",)):
            self.live[run.id] = again
            self._emit(again, "running", "shutdown")

    async def _finish(
        self,
        run: Run,
        status: RunStatus,
        *,
        output: Any = None,
        error: RunError | None = None,
        expect: Sequence[RunStatus],
        job: ActiveJob | None = None,
    ) -> Run | None:
        final = replace(
            run,
            status=status,
            output=output,
            error=error,
            finished_at=timeutil.now(),
            pid=None,
            resources=job.resources if job is not None else run.resources,
        )
        if not await self._store(final, expect):
            return None
        self.live.pop(run.id, None)
        self._emit(final, run.status)
        future = self._done.pop(run.id, None)
        if future is not None and not future.done():
            future.set_result(final)
        self.wakeups.ended(run.id)
        return final

    async def _store(self, run: Run, expect: Sequence[RunStatus]) -> bool:
        """Write a transition, riding out a storage outage: the run's outcome waits in
        memory until storage is back (after shutdown began, a few tries only; the run
        is then still unfinished in storage and runs again at the next start)."""
        delay = 0.2
        tries_after_stop = 5
        failed_before = False
        while True:
            try:
                if await self.storage.update_run(run, expect=expect):
                    return True
                if not failed_before:
                    return False
                # A write reported as failed may still have committed (the connection
                # broke after the commit): then the stored record is ours.
                return await self.storage.get_run(run.id) == run
            except StorageUnavailable as exc:
                failed_before = True
                if not self.accepting:
                    tries_after_stop -= 1
                    if tries_after_stop <= 0:
                        logger.error("run %s: could not store %s: %s", run.id, run.status, exc)
                        return False
                logger.warning("run %s: %s waits for storage: %s", run.id, run.status, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    # -- cancelling ------------------------------------------------------------------

    def _interrupt(self, run_id: str, kind: str, message: str) -> None:
        job = self.active.get(run_id)
        if job is None or job.execution is None:
            if run_id in self.active:
                self._pending_cancel[run_id] = (kind, message)
            return
        if job.cancel_reason is None or kind == "cancelled":
            job.cancel_reason = (kind, message)  # a user's cancel wins over a timeout
        job.execution.cancel()

    async def cancel(self, run_id: str, reason: str | None, uid: int, admin: bool) -> Run:
        run = await self.get(run_id)
        if run.status in TERMINAL:
            return run
        check_owner(run, uid, admin, "cancel")
        message = reason or f"cancelled by uid {uid}"
        # A run may move between queued and running while we act (a retry, a start);
        # go round until it has ended or a minute has passed.
        deadline = asyncio.get_running_loop().time() + 60.0
        while run.status not in TERMINAL:
            if run.status == "queued":
                self.queue.remove(run_id)
                self.free_queue.remove(run_id)
                timer = self._timers.pop(run_id, None)
                if timer is not None:
                    timer.cancel()
                final = await self._finish(
                    run,
                    "cancelled",
                    error=RunError(type="cancelled", message=message),
                    expect=("queued",),
                )
                if final is not None:
                    return final
            elif run.status == "suspended":
                final = await self._finish(
                    run,
                    "cancelled",
                    error=RunError(type="cancelled", message=message),
                    expect=("suspended",),
                )
                if final is not None:
                    await self._cancel_children(run_id, message)
                    return final
            else:
                self._interrupt(run_id, "cancelled", message)
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            run = await self.wait(run_id, min(left, 1.0))
        return run

    async def _cancel_children(self, run_id: str, message: str) -> None:
        """A suspended parent's children end with it (a running parent's task type
        cancels its own; a suspended one has nobody running to do it)."""
        cursor: str | None = None
        while True:
            page = await self.storage.list_runs(
                RunQuery(parent_id=run_id, limit=500, cursor=cursor)
            )
            for child in page.runs:
                if child.status not in TERMINAL:
                    await self.cancel(child.id, f"its parent was cancelled: {message}", 0, True)
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    # -- suspension -----------------------------------------------------------------

    async def _suspend(self, run: Run, why: Suspended, job: ActiveJob) -> None:
        suspended = replace(
            run,
            status="suspended",
            pid=None,
            wake_at=timeutil.format_ts(why.wake_at) if why.wake_at is not None else None,
            waiting_for=why.waiting_for,
            resources=job.resources,
        )
        if not await self._store(suspended, ("running",)):
            return
        self.live.pop(run.id, None)
        self._emit(suspended, "running", "suspended")
        self._watch(suspended)

    def _watch(self, run: Run, recovering: bool = False) -> None:
        """Arrange for a suspended run to wake when it is due."""
        if run.wake_at is not None:
            self.wakeups.at(run.id, timeutil.parse_ts(run.wake_at))
        waiting = run.waiting_for or ""
        if waiting.startswith("run:"):
            child = waiting[4:]
            self.wakeups.on_run[child].add(run.id)
            if child not in self.live:  # it may have ended already
                self._spawn(self._wake_if_ended(run.id, child))
        elif waiting.startswith("signal:"):
            name = waiting[7:]
            if name in self.wakeups.signalled.pop(run.id, set()):
                self._wake_soon(run.id, f"signal {name!r} arrived")
            elif recovering:
                self._spawn(self._wake_if_signalled(run.id, name))
        elif run.wake_at is None:
            logger.error("run %s is suspended with nothing to wake it; waking it", run.id)
            self._wake_soon(run.id, "nothing to wait for")

    async def _wake_if_ended(self, run_id: str, child_id: str) -> None:
        child = await self.storage.get_run(child_id)
        if child is None or child.status in TERMINAL:
            self.wakeups.on_run.pop(child_id, None)
            await self._wake(run_id, f"run {child_id} ended")

    async def _wake_if_signalled(self, run_id: str, name: str) -> None:
        """After a restart: wake a run if a signal it waits for arrived after its last
        receipt of one (the replay decides whether it is new to it)."""
        arrived = received = 0
        after = 0
        while True:
            steps = await self.storage.read_steps(run_id, after, 1000)
            for step in steps:
                if step.name == name and step.kind == "signal_in":
                    arrived = step.seq
                elif step.name == name and step.kind == "signal" and step.status == "received":
                    received = step.seq
            if len(steps) < 1000:
                break
            after = steps[-1].seq
        if arrived > received:
            await self._wake(run_id, f"signal {name!r} arrived")

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._wakings.add(task)
        task.add_done_callback(self._wakings.discard)

    def _wake_soon(self, run_id: str, why: str) -> None:
        self._spawn(self._wake(run_id, why))

    async def _wake(self, run_id: str, why: str) -> None:
        if not self.dispatching:
            return  # shutting down: the next start watches it again
        stored = await self.storage.get_run(run_id)
        if stored is None or stored.status != "suspended":
            return
        again = replace(stored, status="queued", wake_at=None, waiting_for=None, pid=None)
        if not await self._store(again, ("suspended",)):
            return
        self.live[run_id] = again
        self._emit(again, "suspended", f"woken: {why}")
        self._enqueue(again)
        self._schedule()

    async def signal(self, run_id: str, name: str, data: Any, uid: int, admin: bool) -> Run:
        """Deliver a signal: durable in the run's journal first, then wake the run if it
        waits for it."""
        run = await self.get(run_id)
        check_owner(run, uid, admin, "signal")
        if run.status in TERMINAL:
            raise Conflict(
                f"run {run_id} has ended ({run.status}); it takes no signals",
                {"id": run_id, "status": run.status},
            )
        check_size("data", data, self.config.limits.max_input_bytes)
        await self.storage.append_steps(
            run_id,
            [
                NewStep(
                    ts=timeutil.now(),
                    kind="signal_in",
                    key=f"signal_in:{name}:{self.ids.new()}",
                    name=name,
                    status="received",
                    data={"payload": data, "uid": uid},
                )
            ],
        )
        current = self.live.get(run_id)
        if current is not None:  # queued or running: it will find it, or suspend for it
            self.wakeups.signalled[run_id].add(name)
            return current
        stored = await self.get(run_id)
        if stored.status == "suspended" and stored.waiting_for == f"signal:{name}":
            await self._wake(run_id, f"signal {name!r} arrived")
            return await self.get(run_id)
        return stored

    async def retry(self, run_id: str, uid: int, admin: bool) -> Run:
        """A new run of a failed or cancelled one: same task and input, linked to it."""
        old = await self.get(run_id)
        check_owner(old, uid, admin, "retry")
        if old.status not in ("failed", "cancelled"):
            raise Conflict(
                f"run {run_id} is {old.status}; only failed or cancelled runs can be retried",
                {"id": run_id, "status": old.status},
            )
        return await self.submit(
            old.task, old.input, priority=old.priority, submitted_by=uid, retry_of=old.id
        )

    # -- start and stop ---------------------------------------------------------------

    async def recover(self) -> int:
        """Put back in line every run an earlier daemon accepted and did not finish."""
        started = time.perf_counter()
        runs = await self.storage.unfinished_runs()
        grace = float(self.config.task_types.get("shell", {}).get("kill_grace_s", 5.0))
        interrupted = [r.id for r in runs if r.status == "running"]
        if interrupted:
            await asyncio.to_thread(end_orphans, interrupted, grace)
            # Their next attempt starts clean (no output of the lost attempt).
            for run_id in interrupted:
                await asyncio.to_thread(shutil.rmtree, os.path.join(self.work_root, run_id), True)
        for run in runs:
            if run.status == "suspended":
                self._watch(run, recovering=True)
                continue
            if run.status == "running":
                again = replace(run, status="queued", started_at=None, pid=None)
                if not await self.storage.update_run(again, expect=("running",)):
                    continue
                await self.storage.append_logs(
                    run.id,
                    [_system_line("the daemon stopped while this run was running; it runs again")],
                )
                self._emit(again, "running", "recovered")
                run = again
            if run.status != "queued":
                continue
            self.live[run.id] = run
            self._enqueue(run)
        if runs:
            logger.info(
                "recovered %d unfinished run(s) in %.1f ms: %d queued or running again, "
                "%d suspended",
                len(runs),
                (time.perf_counter() - started) * 1000,
                len(self.live),
                sum(1 for r in runs if r.status == "suspended"),
            )
        self._schedule()
        return len(self.live)

    async def shutdown(self, grace_s: float) -> None:
        """Stop taking work; let running runs finish for ``grace_s``; interrupt the rest
        (they are re-queued and run again at the next start)."""
        self.accepting = False
        self.dispatching = False
        self.wakeups.stop()
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        for run_id in list(self.active):
            if run_id not in self._holding:
                # Coordinators (flows) stop at once; their children finish in the grace
                # period and the flow picks up their results from the journal next time.
                self._interrupt(
                    run_id, "shutdown", "the daemon stopped; the flow resumes at the next start"
                )
        executions = list(self._executions)
        if executions:
            logger.info("waiting up to %gs for %d running run(s)", grace_s, len(executions))
            _, still = await asyncio.wait(executions, timeout=grace_s)
            if still:
                for run_id in list(self.active):
                    self._interrupt(
                        run_id,
                        "shutdown",
                        f"the daemon stopped; the run was interrupted after a {grace_s:g}s "
                        "grace period and runs again at the next start",
                    )
                await asyncio.wait(still, timeout=60)


def _system_line(text: str) -> NewLogLine:
    return NewLogLine(ts=timeutil.now(), stream="system", text=text)
