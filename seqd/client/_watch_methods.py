"""The client's methods for watching the daemon: event subscriptions (``events.*``),
metrics and alerts, defined once for both clients (see ``_methods``): a mixin of
``Methods``.

Its own module because these are what a monitoring program uses, apart from running
things, and ``_methods`` would otherwise pass what a reader keeps in mind.
"""

from __future__ import annotations

import time

from seqd.client._calls import End, Listen, Request, Subscribe
from seqd.client._declare import stream, unary

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from seqd.client._declare import Steps, Stream
    from seqd.model.runs import RunStatus
    from seqd.rpc.events import SubscribeResult
    from seqd.rpc.observing import AlertHistoryResult, AlertInfo, AlertsResult, MetricsResult


class WatchMethods:
    if TYPE_CHECKING:

        def _left(self, listen: Listen) -> None: ...

    # -- metrics and alerts --------------------------------------------------------------

    @unary
    def metrics(self, format: str = "json", prefix: str | None = None) -> Steps[MetricsResult]:
        """Every metric (``format="json"``: ``families``) or the Prometheus text
        (``format="prometheus"``: ``text``); only names starting with ``prefix``."""
        result: MetricsResult = yield Request("metrics.get", {"format": format, "prefix": prefix})
        return result

    @unary
    def alerts(self) -> Steps[list[AlertInfo]]:
        """Every alert rule and its state now."""
        result: AlertsResult = yield Request("alerts.list")
        return result.alerts

    @unary
    def alert_history(
        self, rule: str | None = None, before: int | None = None, limit: int = 50
    ) -> Steps[AlertHistoryResult]:
        """Alert state changes, newest first; ``next_before`` pages on."""
        result: AlertHistoryResult = yield Request(
            "alerts.history", {"rule": rule, "before": before, "limit": limit}
        )
        return result

    # -- events --------------------------------------------------------------------------

    @stream
    def subscribe(
        self,
        topics: Sequence[str],
        *,
        run_id: str | None = None,
        root_id: str | None = None,
        task: str | None = None,
        status: Sequence[RunStatus] | None = None,
        since: str | None = None,
        tail: int | None = None,
        from_time: str | None = None,
        timeout_s: float | None = None,
    ) -> Stream[Any]:
        """Events of ``topics`` (``run``, ``log``, ``step``, and topics the daemon adds)
        for the runs the filters select, as they are stored: ``for event in
        client.subscribe(["run"])`` (``async for`` on AsyncClient). Typed, each is one
        of ``seqd.model.events`` (``RunEvent``, ``LogEvent``..., ``TopicEvent`` for
        other topics); ``event.topic`` tells which. ``log`` and ``step``
        need ``run_id`` or ``root_id`` (a whole tree). ``since`` (an event's ``cursor``,
        or ``"0"`` for the beginning) first replays what happened after it; ``tail`` /
        ``from_time`` start with a run's last lines / the lines since a time. A ``live``
        event marks the end of the replay. The loop ends by itself after ``timeout_s``
        seconds, if given. Raises :class:`SubscriptionCut` (with the cursor to resume
        from) when the daemon ends it; leaving the loop ends it. See docs/events.md."""
        params = {
            "topics": list(topics),
            "run_id": run_id,
            "root_id": root_id,
            "task": task,
            "status": list(status) if status is not None else None,
            "since": since,
            "tail": tail,
            "from_time": from_time,
        }
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        opened: SubscribeResult = yield Subscribe(params)
        listen = Listen(str(opened.id), deadline)
        try:
            while True:
                event: Any = yield listen
                if isinstance(event, End):
                    return
                yield event
        finally:
            self._left(listen)
