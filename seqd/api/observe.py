"""``metrics.*`` and ``alerts.*``: reading the metrics and the alerts' states and history."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from seqd.model.alerts import MAX_ALERT_EVENTS_PAGE
from seqd.rpc.dispatch import Caller, Handler
from seqd.rpc.observing import (
    AlertHistoryParams,
    AlertHistoryResult,
    AlertsResult,
    MetricsGetParams,
    MetricsResult,
)
from seqd.rpc.params import NoParams

if TYPE_CHECKING:
    from seqd.api.context import Daemon


def handlers(app: Daemon) -> dict[str, Handler]:
    async def metrics_get(params: MetricsGetParams, caller: Caller) -> MetricsResult:
        observe = app.observe
        families = observe.families(params.prefix)  # a copy, taken on the loop
        if params.format == "prometheus":
            text = await asyncio.to_thread(observe.exposition, families)
            return MetricsResult(enabled=observe.enabled, text=text.decode())
        return MetricsResult(enabled=observe.enabled, families=families)

    def alerts_list(params: NoParams, caller: Caller) -> AlertsResult:
        engine = app.observe.alerts
        return AlertsResult(
            alerts=engine.status() if engine is not None else [],
            interval_s=app.config.alerts.interval_s,
        )

    async def alerts_history(params: AlertHistoryParams, caller: Caller) -> AlertHistoryResult:
        limit = min(params.limit, MAX_ALERT_EVENTS_PAGE)
        events = await app.storage.list_alert_events(params.rule, params.before, limit + 1)
        more = len(events) > limit
        del events[limit:]
        return AlertHistoryResult(events=events, next_before=events[-1].seq if more else None)

    return {
        "metrics.get": metrics_get,
        "alerts.list": alerts_list,
        "alerts.history": alerts_history,
    }
