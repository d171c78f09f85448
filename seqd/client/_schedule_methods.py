"""The client's ``schedules.*`` methods, defined once for both clients (see
``_methods``): a mixin of ``Methods``.

Its own module because schedules are an API of their own, and ``_methods`` would
otherwise pass what a reader keeps in mind.
"""

from __future__ import annotations

from seqd.client._calls import Request
from seqd.client._declare import unary

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from seqd.client._declare import Steps
    from seqd.model.runs import Run
    from seqd.rpc.schedules import ScheduleDeleted, ScheduleInfo, ScheduleListResult


class ScheduleMethods:
    # -- schedules -----------------------------------------------------------------------

    @unary
    def create_schedule(self, /, name: str, task: str, **definition: Any) -> Steps[ScheduleInfo]:
        """Define schedule ``name`` running ``task``: one of ``at``, ``every`` or
        ``cron``, and any other field of the definition (``input``, ``tz``, ``overlap``,
        ``misfire``, ``catch_up``, ``jitter_s``, ``start``, ``end``, ``anchor``,
        ``paused``; see docs/schedules.md)."""
        info: ScheduleInfo = yield Request(
            "schedules.create", {"name": name, "task": task, **definition}
        )
        return info

    @unary
    def update_schedule(self, /, name: str, task: str, **definition: Any) -> Steps[ScheduleInfo]:
        """Replace the whole definition of schedule ``name`` (fields as for
        ``create_schedule``); its cursor, queue and runs stay."""
        info: ScheduleInfo = yield Request(
            "schedules.update", {"name": name, "task": task, **definition}
        )
        return info

    @unary
    def schedules(
        self, task: str | None = None, after: str | None = None, limit: int = 100
    ) -> Steps[ScheduleListResult]:
        """One page of schedules by name; ``next_cursor`` is the ``after`` of the next."""
        params = {"task": task, "after": after, "limit": limit}
        page: ScheduleListResult = yield Request("schedules.list", params)
        return page

    @unary
    def schedule(self, name: str) -> Steps[ScheduleInfo]:
        info: ScheduleInfo = yield Request("schedules.get", {"name": name})
        return info

    @unary
    def pause_schedule(self, name: str) -> Steps[ScheduleInfo]:
        info: ScheduleInfo = yield Request("schedules.pause", {"name": name})
        return info

    @unary
    def resume_schedule(self, name: str) -> Steps[ScheduleInfo]:
        """Fire again from now on (what fell due while paused is not caught up)."""
        info: ScheduleInfo = yield Request("schedules.resume", {"name": name})
        return info

    @unary
    def delete_schedule(self, name: str) -> Steps[ScheduleDeleted]:
        result: ScheduleDeleted = yield Request("schedules.delete", {"name": name})
        return result

    @unary
    def trigger_schedule(self, name: str) -> Steps[Run]:
        """A run of the schedule's task now, outside its timing and overlap policy."""
        run: Run = yield Request("schedules.trigger", {"name": name})
        return run
