"""Storage that announces what it stored: every run write, log append and journal
append reaches the event bus once it is durable, with its position.

Its own module because this is the one place all writes pass whoever makes them (the
engine, flows, task types through their jobs, recovery), so events can neither be
forgotten by a new writer nor sent before the write they report is stored. A write
that failed announces nothing; the unfinished runs recovery reads are told to the bus,
since they may log before their next write.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from seqd.events.bus import EventBus
from seqd.model.runs import NewLogLine, NewStep, Run, RunStatus
from seqd.plugins.storage import StorageBackend
from seqd.plugins.tracing import TraceEvent
from seqd.storage.traced import TracedStorage


class AnnouncedStorage(TracedStorage):
    """A ``TracedStorage`` that tells ``bus`` about each write it stored."""

    def __init__(
        self,
        inner: StorageBackend,
        emit: Callable[[TraceEvent], None],
        wants: Callable[[type[TraceEvent]], bool],
        bus: EventBus,
    ) -> None:
        super().__init__(inner, emit, wants)
        self.bus = bus

    async def create_run(self, run: Run) -> tuple[Run, int]:
        stored, position = await super().create_run(run)
        if position:
            self.bus.run_written(position, stored)
        return stored, position

    async def update_run(self, run: Run, expect: Sequence[RunStatus] | None = None) -> int:
        position = await super().update_run(run, expect)
        if position:
            self.bus.run_written(position, run)
        return position

    async def unfinished_runs(self) -> list[Run]:
        runs = await super().unfinished_runs()
        self.bus.known(runs)
        return runs

    async def append_logs(self, run_id: str, lines: Sequence[NewLogLine]) -> int:
        last = await super().append_logs(run_id, lines)
        self.bus.logs_written(run_id, last, lines)
        return last

    async def append_steps(self, run_id: str, steps: Sequence[NewStep]) -> int:
        last = await super().append_steps(run_id, steps)
        self.bus.steps_written(run_id, last, steps)
        return last
