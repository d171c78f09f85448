"""Cancelling a run at a user's request (or its parent's): a queued or suspended run
ends at once, a running one is interrupted and ends once its task type has stopped,
and a suspended parent takes its children with it.

Its own module because a cancel races with the run's own progress (it may start, be
retried or suspend meanwhile): it goes round until the run has ended, apart from the
execution it interrupts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from seqd.access.policy import DAEMON, Policy, Principal
from seqd.model.runs import Run, RunError, RunQuery
from seqd.model.status import TERMINAL
from seqd.plugins.storage import StorageBackend

from .transitions import Transitions


class Cancellation:
    def __init__(
        self,
        *,
        storage: StorageBackend,
        transitions: Transitions,
        interrupt: Callable[[str, str, str], None],
        take_back: Callable[[str], None],
        get: Callable[[str], Awaitable[Run]],
        wait: Callable[[str, float | None], Awaitable[Run]],
        access: Policy,
    ) -> None:
        self._storage = storage
        self._access = access
        self._transitions = transitions
        self._interrupt = interrupt
        """``interrupt(run_id, kind, message)``: cancels the run's execution."""
        self._take_back = take_back
        """``take_back(run_id)``: the queued run leaves the queue (and its back-off)."""
        self._get = get
        self._wait = wait

    async def cancel(self, run_id: str, reason: str | None, who: Principal) -> Run:
        run = await self._get(run_id)
        if run.status in TERMINAL:
            return run
        self._access.check_manage(who, run, "cancel")
        message = reason or (f"cancelled by uid {who.uid}" if who.uid is not None else "cancelled")
        # A run may move between queued and running while we act (a retry, a start);
        # go round until it has ended or a minute has passed.
        deadline = asyncio.get_running_loop().time() + 60.0
        while run.status not in TERMINAL:
            if run.status in ("queued", "suspended"):
                if run.status == "queued":
                    self._take_back(run_id)
                final = await self._transitions.finish(
                    run,
                    "cancelled",
                    error=RunError(type="cancelled", message=message),
                    expect=(run.status,),
                )
                if final is not None:
                    if run.status == "suspended":
                        await self._cancel_children(run_id, message)
                    return final
            else:
                self._interrupt(run_id, "cancelled", message)
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            run = await self._wait(run_id, min(left, 1.0))
        return run

    async def _cancel_children(self, run_id: str, message: str) -> None:
        """A suspended parent's children end with it (a running parent's task type
        cancels its own; a suspended one has nobody running to do it)."""
        cursor: str | None = None
        while True:
            page = await self._storage.list_runs(
                RunQuery(parent_id=run_id, limit=500, cursor=cursor)
            )
            for child in page.runs:
                if child.status not in TERMINAL:
                    await self.cancel(child.id, f"its parent was cancelled: {message}", DAEMON)
            if page.next_cursor is None:
                return
            cursor = page.next_cursor
