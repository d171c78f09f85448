"""Executing a run that holds a slot: claiming it (queued → running, durably), starting
its task type with a job, interrupting it (a cancel, its timeout, a shutdown), and
turning how the task type's execution ended into the run's next state: succeeded,
failed, cancelled, another attempt, suspended, or queued again after a shutdown.

Its own module because it is the engine's hot path from a slot to an outcome, and it
owns what exists only while a run executes: its job, its timeout, its interruption.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from typing import Any

from msgspec.structs import replace

from seqd.catalog.catalog import Catalog
from seqd.config.settings import Limits
from seqd.errors import StorageUnavailable, Suspended, TaskFailed, ValidationFailed
from seqd.model import timeutil
from seqd.model.runs import Run, RunError, RunStatus
from seqd.model.status import TERMINAL
from seqd.model.tasks import RetryPolicy
from seqd.plugins.host import PluginHost
from seqd.plugins.storage import StorageBackend

from .job import ActiveJob, JobHost
from .retries import Retries
from .runlog import RunLog, logged_bytes
from .suspension import Suspensions
from .transitions import Transitions, about, explain
from .validation import check_size

logger = logging.getLogger(__name__)

CONCLUDE_S = 2.0
"""How long a shutdown waits, after its grace period, for interrupted runs to record
their interruption (at once, unless storage is out: then they are recovered at the
next start, and the shutdown must not wait on the outage)."""


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


def kill_grace_of(task_types: dict[str, dict[str, Any]]) -> float:
    """The longest SIGTERM-to-SIGKILL grace the task types are configured with
    (``[task_types.<name>] kill_grace_s``, 5 s when not set)."""
    graces = [float(options.get("kill_grace_s", 5.0)) for options in task_types.values()]
    return max([5.0, *graces])


class Executor:
    def __init__(
        self,
        *,
        storage: StorageBackend,
        catalog: Catalog,
        host: PluginHost,
        limits: Limits,
        node: str,
        work_root: str,
        transitions: Transitions,
        retries: Retries,
        suspensions: Suspensions,
        jobs: JobHost,
        active: dict[str, ActiveJob | None],
    ) -> None:
        self._storage = storage
        self._catalog = catalog
        self._host = host
        self._limits = limits
        self._node = node
        self._work_root = work_root
        self._transitions = transitions
        self._retries = retries
        self._suspensions = suspensions
        self._jobs = jobs
        """What each job calls back (the engine)."""
        self.active = active
        """Runs that hold a slot, by id: their job once it exists, None until then."""
        self._timeouts: dict[str, asyncio.TimerHandle] = {}
        self._pending_cancel: dict[str, tuple[str, str]] = {}
        """Interruptions that came before the run's job existed."""
        self._start_failed: set[str] = set()
        """Runs whose start was reported as failed by storage (it may have committed)."""

    async def execute(self, run: Run) -> None:
        """Execute the queued ``run`` to its outcome."""
        entry = self._catalog.entries.get(run.task)
        if entry is None or not entry.runnable or entry.source is None:
            why = "it no longer exists" if entry is None else "its definition is invalid"
            await self._not_runnable(run, f"task {run.task!r}: {why}")
            return
        source = entry.source
        task_type = self._host.task_types.get(source.type)
        if task_type is None:
            await self._not_runnable(run, f"no task type {source.type!r}")
            return
        started = replace(
            run,
            status="running",
            started_at=run.started_at or timeutil.now(),
            task_version=source.version,
            node=self._node,
        )
        try:
            # A run executed before (an earlier attempt, a resumption, a restart) has
            # used part of its log cap already.
            used = 0 if run.started_at is None else await logged_bytes(self._storage, run.id)
            if not await self._storage.update_run(started, expect=("queued",)):
                if run.id not in self._start_failed:
                    return  # cancelled (or taken) while it waited for its slot
                # An earlier start was reported failed but committed: it is ours.
                stored = await self._storage.get_run(run.id)
                if stored is None or stored.status != "running":
                    return
                if not await self._storage.update_run(started, expect=("running",)):
                    return
            self._start_failed.discard(run.id)
        except StorageUnavailable as exc:
            self._start_failed.add(run.id)
            logger.warning("run %s: cannot start, storage unavailable: %s", run.id, exc)
            self._retries.later(run.id, 1.0)
            return
        self._transitions.live[run.id] = started
        self._transitions.emit(started, "queued")
        cap = self._limits.log_cap_bytes
        log = RunLog(self._storage, run.id, cap, self._host.secrets, written_bytes=used)
        job = ActiveJob(
            started,
            source,
            os.path.join(self._work_root, run.id),
            log,
            self._jobs,
            self._host.secrets,
        )
        self.active[run.id] = job
        timeout = entry.definition.timeout_s
        if timeout is not None:
            self._timeouts[run.id] = asyncio.get_running_loop().call_later(
                timeout, self.interrupt, run.id, "timeout", f"timed out after {timeout:g}s"
            )
        job.execution = asyncio.get_running_loop().create_task(task_type.execute(job))
        pending = self._pending_cancel.pop(run.id, None)
        if pending is not None:
            self.interrupt(run.id, *pending)
        await _ended(job.execution)
        handle = self._timeouts.pop(run.id, None)
        if handle is not None:
            handle.cancel()
        await self._conclude(job, entry.definition.retries)
        if os.path.isdir(job.work_path):  # noqa: ASYNC240 - one stat beats a thread hop
            await asyncio.to_thread(shutil.rmtree, job.work_path, True)

    async def _not_runnable(self, run: Run, message: str) -> None:
        await self._transitions.finish(
            run,
            "failed",
            error=RunError(type="not_runnable", message=message),
            expect=("queued",),
        )

    async def fail(self, run_id: str, exc: Exception) -> None:
        """A bug or an unexpected error must not leave a run unfinished forever:
        record it as failed (type ``internal``) once, and wake its waiters."""
        handle = self._timeouts.pop(run_id, None)
        if handle is not None:
            handle.cancel()
        current = self._transitions.live.get(run_id)
        if current is None or current.status in TERMINAL:
            return
        error = RunError(
            type="internal", message=f"the daemon failed running it: {type(exc).__name__}"
        )
        try:
            await self._transitions.finish(
                current, "failed", error=error, expect=("queued", "running")
            )
        except Exception:
            logger.exception("run %s: could not record the failure", run_id)

    async def settle(self, executions: set[asyncio.Task[None]], kill_grace_s: float) -> None:
        """Let interrupted ``executions`` (a shutdown's, after its grace period) end:
        first their task types stop their processes (``kill_grace_s`` between SIGTERM
        and SIGKILL), then the runs get ``CONCLUDE_S`` to record their interruption;
        those that cannot (storage is out) are abandoned."""
        stopping = [
            job.execution
            for job in self.active.values()
            if job is not None and job.execution is not None and not job.execution.done()
        ]
        if stopping:
            await asyncio.wait(stopping, timeout=kill_grace_s + 1.0)
        _, still = await asyncio.wait(executions, timeout=CONCLUDE_S)
        if still:
            await self._abandon(still)

    async def _abandon(self, executions: set[asyncio.Task[None]]) -> None:
        """The end of a shutdown whose interrupted runs could not conclude in time
        (storage is out: their logs and states cannot be written): stop their log
        writers and their executions. Each run stays as storage last has it (running
        or queued) and the next start recovers it, so no accepted run is lost; only
        log lines that storage never took are."""
        lost = sum(job.runlog.abandon() for job in self.active.values() if job is not None)
        for execution in executions:
            execution.cancel()
        await asyncio.wait(executions, timeout=1.0)
        logger.warning(
            "%d run(s) could not record their interruption (storage unavailable?); they "
            "are recovered at the next start; %d log line(s) waiting for storage were dropped",
            len(executions), lost,
        )  # fmt: skip

    def interrupt(self, run_id: str, kind: str, message: str) -> None:
        """Cancel the execution of ``run_id`` (``kind``: ``cancelled``, ``timeout`` or
        ``shutdown``); its outcome is decided when the task type has stopped."""
        job = self.active.get(run_id)
        if job is None or job.execution is None:
            if run_id in self.active:
                self._pending_cancel[run_id] = (kind, message)
            return
        if job.cancel_reason is None or kind == "cancelled":
            job.cancel_reason = (kind, message)  # a user's cancel wins over a timeout
        job.execution.cancel()

    async def _conclude(self, job: ActiveJob, policy: RetryPolicy) -> None:
        execution = job.execution
        assert execution is not None
        run = self._transitions.live.get(job.run.id, job.run)
        log = job.runlog
        output: Any = None
        error: RunError | None = None
        status: RunStatus = "succeeded"
        if execution.cancelled():
            kind, message = job.cancel_reason or ("cancelled", "cancelled")
            if kind == "shutdown":
                log.system(message)
                await log.flush()
                await self._requeue_after_interrupt(run, job)
                return
            status = "cancelled" if kind == "cancelled" else "failed"
            error = RunError(type=kind, message=message)
        elif isinstance(exc := execution.exception(), Suspended):
            await log.flush()
            await self._suspensions.suspend(run, exc, job)
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
                check_size("output", output, self._limits.max_input_bytes)
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
                logger.info(
                    "%s: attempt %d failed %s; retrying in %gs",
                    about(run), run.attempt, explain(error), delay,
                )  # fmt: skip
                await self._retries.again(run, delay, job)
                return
            status, error = "cancelled", RunError(type="cancelled", message=job.cancel_reason[1])
        await log.flush()
        await self._transitions.finish(
            run, status, output=output, error=error, expect=("running",), job=job
        )

    async def _requeue_after_interrupt(self, run: Run, job: ActiveJob) -> None:
        again = replace(run, status="queued", pid=None, running_s=job.running_s)
        if await self._transitions.store(again, ("running",)):
            self._transitions.live[run.id] = again
            self._transitions.emit(again, "running", "shutdown")
