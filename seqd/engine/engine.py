"""The run engine as the rest of the daemon sees it: ``Engine`` accepts runs
(validation, idempotency), hands queued runs to worker slots under the concurrency
limits, answers reads and waits, and starts and stops. The rest is done by the parts it
owns: every status change (``transitions``), executing a run (``execution``), retry
back-off (``retries``), suspension and signals (``suspension``), cancellation
(``cancellation``) and recovery after a restart (``recovery``).

Its own module because this is the one class the API, the daemon and jobs use, and the
hand-off it keeps — submit, queue, slot, execution — is the engine's hot path.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import Counter
from collections.abc import Sequence
from typing import Any

from seqd.access.policy import Policy, Principal
from seqd.catalog.catalog import Catalog
from seqd.config.settings import Config
from seqd.errors import Conflict, NotFound, ShuttingDown
from seqd.events.bus import EventBus
from seqd.model.ids import IdGenerator
from seqd.model.nodes import Note
from seqd.model.runs import Run, RunPage, RunQuery
from seqd.model.scopes import submitter_scope
from seqd.model.status import TERMINAL
from seqd.model.traces import TraceParent, trace_of
from seqd.observe.custom import CustomMetrics
from seqd.observe.runs import RunMetrics
from seqd.plugins.host import PluginHost
from seqd.plugins.storage import StorageBackend, shared_queue
from seqd.tools.service import ToolService

from .accepting import new_run
from .cancellation import Cancellation
from .cluster import ClusterLink, node_info
from .execution import Executor, kill_grace_of
from .job import ActiveJob
from .queue import RunQueue
from .recovery import recover
from .retries import Retries
from .services import JobServices
from .slots import Slots
from .suspension import Suspensions
from .traces import trace_of_new_run
from .transitions import Transitions
from .validation import check_size

logger = logging.getLogger(__name__)


class Engine(Slots, JobServices):
    def __init__(
        self,
        *,
        storage: StorageBackend,
        catalog: Catalog,
        host: PluginHost,
        config: Config,
        state_dir: str,
        node: str,
        metrics: RunMetrics | None = None,
        custom_metrics: CustomMetrics | None = None,
        access: Policy,
        events: EventBus | None = None,
    ) -> None:
        """``events``: the bus a shared store's change feed hands other nodes' writes."""
        self.storage = storage
        self.access = access
        self.catalog = catalog
        self.host = host
        self.config = config
        self.node = node
        self.work_root = os.path.join(state_dir, "work")
        self.ids = IdGenerator()
        self.max_workers = config.workers
        self.queue = RunQueue()
        """Runs waiting for a worker slot."""
        self.free_queue = RunQueue()
        """Runs of task types that hold no worker (flows): they only coordinate child
        runs, so they start at once — never behind the runs they wait for."""
        self.holding: set[str] = set()
        """Runs holding one of the ``max_workers`` slots."""
        self.active: dict[str, ActiveJob | None] = {}
        self.per_task: Counter[str] = Counter()
        self.accepting = True
        self.dispatching = True
        self._done: dict[str, asyncio.Future[Run]] = {}
        self._executions: set[asyncio.Task[None]] = set()
        self.tools: ToolService | None = None
        """Set by the app once the tool service is up."""
        shared = shared_queue(storage)
        self.cluster = ClusterLink(self, shared, events) if shared is not None else None
        """Set when the store is shared by several nodes: runs are claimed from it."""
        self.transitions = Transitions(storage, host, self._ended, metrics)
        self.metrics = self.transitions.metrics
        self.custom_metrics = custom_metrics
        self.retries = Retries(self.transitions, self._hand_off)
        self.suspensions = Suspensions(
            storage=storage,
            transitions=self.transitions,
            hand_off=self._hand_off,
            get=self.get,
            ids=self.ids,
            limits=config.limits,
            access=access,
            owns=self.cluster.owns if self.cluster is not None else None,
            forward=self._forward,
        )
        self.executor = Executor(
            storage=storage,
            catalog=catalog,
            host=host,
            limits=config.limits,
            node=node,
            work_root=self.work_root,
            transitions=self.transitions,
            retries=self.retries,
            suspensions=self.suspensions,
            jobs=self,
            active=self.active,
        )
        self.cancellation = Cancellation(
            storage=storage,
            transitions=self.transitions,
            interrupt=self._interrupt,
            take_back=self.take_back,
            get=self.get,
            wait=self.wait,
            access=access,
        )

    def stats(self) -> dict[str, int]:
        return {
            "max": self.max_workers,
            "busy": len(self.holding),
            "queued": len(self.queue),
            "coordinating": len(self.active) - len(self.holding),
        }

    # -- accepting -------------------------------------------------------------------

    async def submit(
        self,
        task: str,
        data: dict[str, Any],
        *,
        idempotency_key: str | None = None,
        idempotency_scope: str | None = None,
        priority: int = 0,
        submitted_by: int | None = None,
        parent_id: str | None = None,
        root_id: str | None = None,
        retry_of: str | None = None,
        trace: TraceParent | None = None,
        parent_span_id: str | None = None,
        schedule: str | None = None,
        scheduled_for: str | None = None,
    ) -> Run:
        """Accept a run. An ``idempotency_key`` is unique within ``idempotency_scope``,
        by default the submitter's (``seqd.model.scopes``): the same key again gives the
        run it made, the same key with another task or input a ``Conflict``. ``trace``:
        the caller's trace context (a ``traceparent``), which the run joins; a child run
        (``parent_id``) joins its parent's trace instead, under ``parent_span_id`` (the
        span of the step that starts it) or the parent's own span."""
        self.check_accepting()
        entry = await self.catalog.runnable(task)
        data = self.catalog.check_input(entry, data)
        check_size("input", data, self.config.limits.max_input_bytes)
        trace_id, parent_span = await trace_of_new_run(self.transitions, parent_id, trace)
        run = new_run(
            self.ids,
            self.node,
            entry,
            data,
            idempotency_key=idempotency_key,
            idempotency_scope=(
                None
                if idempotency_key is None
                else idempotency_scope or submitter_scope(submitted_by)
            ),
            priority=priority,
            submitted_by=submitted_by,
            parent_id=parent_id,
            root_id=root_id,
            retry_of=retry_of,
            trace_id=trace_id,
            parent_span_id=parent_span_id or parent_span,
            schedule=schedule,
            scheduled_for=scheduled_for,
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
        self.accepted([run])
        return run

    def check_accepting(self) -> None:
        if not self.accepting:
            raise ShuttingDown("the daemon is shutting down; no new runs are accepted")

    def accepted(self, runs: list[Run]) -> None:
        """Runs just stored as queued: they go in line, and what can start starts.
        With a shared store they are claimed instead, here or on another node."""
        unheld = 0
        for run in runs:
            self.transitions.spans.created(run.id)
            self.transitions.emit(run, None)
            if self.cluster is None or self.cluster.shared.take_fresh(run.id):
                self.transitions.live[run.id] = run
                self.enqueue(run)
            else:
                unheld += 1
        self.schedule()
        if self.cluster is not None and unheld:
            self.cluster.queued()
            self.cluster.tell(Note(kind="queued"))

    def trace_for(self, run_id: str) -> str | None:
        """The trace id of a queued or running run (what storage calls are made for)."""
        run = self.transitions.live.get(run_id)
        return trace_of(run) if run is not None else None

    async def retry(self, run_id: str, who: Principal) -> Run:
        """A new run of a failed or cancelled one: same task and input, linked to it,
        submitted by ``who``."""
        old = await self.get(run_id)
        self.access.check_manage(who, old, "retry")
        if old.status not in ("failed", "cancelled"):
            raise Conflict(
                f"run {run_id} is {old.status}; only failed or cancelled runs can be retried",
                {"id": run_id, "status": old.status},
            )
        return await self.submit(
            old.task, old.input, priority=old.priority, submitted_by=who.uid, retry_of=old.id
        )

    # -- reading and waiting ---------------------------------------------------------

    async def get(self, run_id: str) -> Run:
        run = self.transitions.live.get(run_id)
        if run is not None:
            return run
        stored = await self.storage.get_run(run_id)
        if stored is None:
            raise NotFound(f"no run with id {run_id}", {"id": run_id})
        return stored

    async def list(self, query: RunQuery) -> RunPage:
        return await self.storage.list_runs(query)

    async def wait(self, run_id: str, timeout_s: float | None) -> Run:
        run = self.transitions.live.get(run_id)
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

    def _ended(self, final: Run) -> None:
        """A run has ended (stored): wake whoever waits for it, here and elsewhere."""
        self.woken(final)
        if self.cluster is not None:
            self.cluster.ended(final)

    def woken(self, final: Run) -> None:
        """Wake whoever waits here for the ended run ``final``."""
        future = self._done.pop(final.id, None)
        if future is not None and not future.done():
            future.set_result(final)
        self.suspensions.wakeups.ended(final.id)

    def waits_for(self, run_id: str) -> bool:
        """Whether anything here waits for ``run_id`` to end."""
        return run_id in self._done or run_id in self.suspensions.wakeups.on_run

    def waited_for(self) -> Sequence[str]:
        """Every run something here waits for to end."""
        return [*self._done, *self.suspensions.wakeups.on_run]

    def _interrupt(self, run_id: str, kind: str, message: str) -> None:
        """Cancel the execution of ``run_id``, here or on the node that runs it."""
        if run_id in self.active or self.cluster is None:
            self.executor.interrupt(run_id, kind, message)
        else:
            self.cluster.tell(Note(kind="cancel", run_id=run_id, text=message))

    def _forward(self, run_id: str, name: str) -> None:
        """A signal for a run held by another node: that node delivers it."""
        if self.cluster is not None:
            self.cluster.tell(Note(kind="signal", run_id=run_id, text=name))

    async def cancel(self, run_id: str, reason: str | None, who: Principal) -> Run:
        return await self.cancellation.cancel(run_id, reason, who)

    async def signal(self, run_id: str, name: str, data: Any, who: Principal) -> Run:
        return await self.suspensions.signal(run_id, name, data, who)

    # -- start and stop ---------------------------------------------------------------

    async def recover(self) -> int:
        """Put back in line every run an earlier daemon accepted and did not finish;
        with a shared store, join it as a new node: the runs of dead nodes (this one's
        earlier life among them) are taken over, and queued runs claimed.
        First the stored runs are counted by status, once: from then on every change
        moves the counts (``metrics.counts``), whatever the size of the history."""
        self.metrics.load(await self.storage.count_by_status())
        if self.cluster is None:
            await self.recover_runs(await self.storage.unfinished_runs())
        else:
            await self.cluster.start(node_info(self.node, self.max_workers))
        return len(self.transitions.live)

    async def recover_runs(self, runs: Sequence[Run]) -> None:
        """The recovery of a restart (``recovery``), for ``runs`` left unfinished."""
        grace = float(self.config.task_types.get("shell", {}).get("kill_grace_s", 5.0))
        await recover(
            runs,
            storage=self.storage,
            transitions=self.transitions,
            enqueue=self.enqueue,
            watch=self.suspensions.watch,
            work_root=self.work_root,
            grace_s=grace,
        )
        self.schedule()

    async def shutdown(self, grace_s: float) -> None:
        """Stop taking work; let running runs finish for ``grace_s``; interrupt the rest
        (they are re-queued and run again at the next start)."""
        self.accepting = False
        self.dispatching = False
        self.transitions.stopping = True
        self.suspensions.stop()
        self.retries.stop()
        for run_id in list(self.active):
            if run_id not in self.holding:
                # Coordinators (flows) stop at once; their children finish in the grace
                # period and the flow picks up their results from the journal next time.
                self.executor.interrupt(
                    run_id, "shutdown", "the daemon stopped; the flow resumes at the next start"
                )
        executions = list(self._executions)
        if executions:
            logger.info("waiting up to %gs for %d running run(s)", grace_s, len(executions))
            _, still = await asyncio.wait(executions, timeout=grace_s)
            if still:
                for run_id in list(self.active):
                    self.executor.interrupt(
                        run_id,
                        "shutdown",
                        f"the daemon stopped; the run was interrupted after a {grace_s:g}s "
                        "grace period and runs again at the next start",
                    )
                await self.executor.settle(still, kill_grace_of(self.config.task_types))
        await self.transitions.spans.stop(grace_s)
        if self.cluster is not None:
            await self.cluster.stop()
