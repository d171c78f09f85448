"""Schedule fires and misses as metrics: the two calls the scheduler makes.

The scheduler (``seqd.scheduler``, above the engine) is given ``ScheduleMetrics`` at
assembly and calls ``fired(name)`` once per run it submits for a schedule and
``missed(name, reason, count)`` for fires it did not make: ``overlap`` (skipped
because the previous run of the schedule was unfinished) or ``misfire`` (missed
while the daemon was down, and not run by the misfire policy). Labelled by schedule
name: schedules are few and named by their owner, like tasks.

Its own module because it is the scheduler's whole interface to metrics, written
before the scheduler so both sides agree on it (docs/observability.md).
"""

from __future__ import annotations

from seqd.observe.registry import Registry

MISS_REASONS = ("overlap", "misfire")


class ScheduleMetrics:
    def __init__(self, registry: Registry) -> None:
        self.fires = registry.counter(
            "seqd_schedule_fires_total", "Runs submitted by a schedule, by schedule.", ("schedule",)
        )
        self.misses = registry.counter(
            "seqd_schedule_misses_total",
            "Fires a schedule did not make, by schedule and reason (overlap, misfire).",
            ("schedule", "reason"),
        )

    def fired(self, schedule: str) -> None:
        self.fires.inc((schedule,))

    def missed(self, schedule: str, reason: str, count: int = 1) -> None:
        if reason not in MISS_REASONS:
            raise ValueError(f"reason must be one of {MISS_REASONS}, not {reason!r}")
        self.misses.inc((schedule, reason), count)
