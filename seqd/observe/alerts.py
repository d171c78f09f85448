"""The alert engine: every rule evaluated every ``alerts.interval_s``, its state moved
inactive → pending → firing → resolved, each change stored, then notified.

A change is stored through the storage interface (``append_alert_event``) before
anything is told of it; if storage refuses, the state stays as it was and the next
evaluation tries again, so history and notifications never disagree. At start the
last stored event of each rule is read back: an alert that was firing when the daemon
stopped is firing still (and is resolved, and notified, if its condition has passed),
while a pending one starts its ``for`` again.

Notifications (``notify``) go to the daemon log, to a task the rule names and to the
``seqd_alert`` hook of plugins; the engine is handed the two that reach above it —
submitting a run and calling plugins — by the daemon at assembly.

Its own module because it is the one stateful, timed part of the alerts; what each
rule measures is ``conditions``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from seqd.config.observe import AlertRule, AlertsSettings
from seqd.errors import StorageUnavailable
from seqd.model import timeutil
from seqd.model.alerts import AlertEvent, AlertState, LiveState, NewAlertEvent
from seqd.model.metrics import Family, Series
from seqd.model.runs import RunQuery
from seqd.observe.conditions import Condition, Reading, condition_of
from seqd.observe.notify import Notifier
from seqd.observe.registry import Registry
from seqd.observe.runs import RunMetrics
from seqd.plugins.storage import StorageBackend
from seqd.rpc.observing import AlertInfo

logger = logging.getLogger(__name__)


@dataclass
class Alert:
    """One rule and where it stands."""

    rule: AlertRule
    condition: Condition
    state: LiveState = "inactive"
    since: float | None = None
    """Monotonic time the condition started holding (pending and firing)."""
    changed_at: str | None = None
    """When the state last changed (RFC 3339)."""
    last: Reading | None = None
    evaluated_at: str | None = None


class AlertEngine:
    def __init__(
        self,
        settings: AlertsSettings,
        *,
        registry: Registry,
        runs: RunMetrics,
        rss: Callable[[], int],
        storage: StorageBackend,
        notifier: Notifier,
    ) -> None:
        self.interval_s = settings.interval_s
        self._storage = storage
        self._runs = runs
        self._notifier = notifier
        self.alerts = {
            rule.name: Alert(rule, condition_of(rule, registry, runs, rss))
            for rule in settings.rules
        }
        self._task: asyncio.Task[None] | None = None
        registry.collector(self._firing_family)

    async def start(self) -> None:
        """Restore states from the stored history, then evaluate every interval."""
        await self.restore()
        if self.alerts:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def restore(self) -> None:
        """Each rule's state as the stored history leaves it (firing stays firing;
        pending starts again), and each watched task's failures in a row."""
        for alert in self.alerts.values():
            rule = alert.rule
            last = await self._storage.list_alert_events(rule=rule.name, limit=1)
            if last and last[0].state == "firing":
                alert.state, alert.since, alert.changed_at = "firing", time.monotonic(), last[0].ts
            if rule.kind == "consecutive_failures" and rule.task is not None:
                await self._count_failures(rule.task, rule.count or 1)

    async def _count_failures(self, task: str, count: int) -> None:
        """The task's failures in a row before this daemon started (its newest runs)."""
        if task in self._runs.failures_in_a_row:
            return
        page = await self._storage.list_runs(RunQuery(task=task, limit=min(count * 2 + 10, 1000)))
        row = 0
        for run in page.runs:
            if run.status == "failed":
                row += 1
            elif run.status == "succeeded":
                break
        self._runs.failures_in_a_row[task] = row

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self._notifier.stop()

    async def _loop(self) -> None:
        while True:
            try:
                await self.evaluate()
            except Exception:
                logger.exception("alert evaluation failed")
            await asyncio.sleep(self.interval_s)

    async def evaluate(self) -> None:
        """Read every rule's condition once and move its state."""
        now = time.monotonic()
        stamp = timeutil.now()
        for alert in self.alerts.values():
            reading = alert.condition.read(now)
            alert.last, alert.evaluated_at = reading, stamp
            target = self._next_state(alert, reading, now)
            if target is not None:
                await self._change(alert, target, reading, now)

    @staticmethod
    def _next_state(alert: Alert, reading: Reading, now: float) -> AlertState | None:
        for_s = alert.rule.for_s
        if reading.holds:
            if alert.state == "inactive":
                return "firing" if for_s <= 0 else "pending"
            if alert.state == "pending" and alert.since is not None and now - alert.since >= for_s:
                return "firing"
            return None
        if alert.state == "pending":
            return "inactive"
        if alert.state == "firing":
            return "resolved"
        return None

    async def _change(self, alert: Alert, state: AlertState, reading: Reading, now: float) -> None:
        rule = alert.rule
        new = NewAlertEvent(
            ts=timeutil.now(),
            rule=rule.name,
            state=state,
            previous=alert.state,
            severity=rule.severity,
            value=reading.value,
            message=rule.message or reading.message,
            details={"kind": rule.kind, "reading": reading.message, **reading.details},
        )
        try:
            seq = await self._storage.append_alert_event(new)
        except StorageUnavailable as exc:
            logger.warning("alert %s: cannot store %s (%s); trying again", rule.name, state, exc)
            return
        if state == "pending":
            alert.since = now
        elif state in ("inactive", "resolved"):
            alert.since = None
        elif alert.since is None:
            alert.since = now
        alert.state = "inactive" if state == "resolved" else state
        alert.changed_at = new.ts
        if state in ("firing", "resolved"):
            event = AlertEvent(seq=seq, **{f: getattr(new, f) for f in new.__struct_fields__})
            self._notifier.notify(rule, event)

    def _firing_family(self) -> list[Family]:
        series = [
            Series(labels={"rule": name}, value=1.0 if a.state == "firing" else 0.0)
            for name, a in self.alerts.items()
        ]
        return [
            Family(
                name="seqd_alerts_firing",
                kind="gauge",
                help="1 while an alert rule is firing, else 0, by rule.",
                series=series,
            )
        ]

    def status(self) -> list[AlertInfo]:
        """Each rule and where it stands, for ``alerts.list``."""
        out: list[AlertInfo] = []
        for name, a in self.alerts.items():
            reading = a.last
            out.append(
                AlertInfo(
                    name=name,
                    kind=a.rule.kind,
                    severity=a.rule.severity,
                    state=a.state,
                    since=a.changed_at if a.state != "inactive" else None,
                    value=reading.value if reading else None,
                    message=(a.rule.message or reading.message) if reading else "",
                    evaluated_at=a.evaluated_at,
                )
            )
        return out
