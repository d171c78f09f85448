"""Where a firing or resolved alert is told: the daemon log (WARNING), a run of the
task the rule names (input ``{"alert": <the event>}``), and plugins' ``seqd_alert``.

Submitting a run and calling plugins are the daemon's to do (they live above this
package): the daemon hands them in as two functions. Both run as tasks of their own,
so a slow plugin or a refused submit never holds up the next evaluation; their
failures are logged.

Its own module because notifications are where alerts leave seqd, and each way out
must fail alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import msgspec

from seqd.config.observe import AlertRule
from seqd.model.alerts import AlertEvent

logger = logging.getLogger(__name__)

Submit = Callable[[str, dict[str, Any]], Awaitable[Any]]
"""Submit a run of a task with an input (``Engine.submit``)."""
Hook = Callable[[AlertEvent], Coroutine[Any, Any, None]]
"""Tell plugins (``PluginHost.alert``)."""


class Notifier:
    def __init__(self, submit: Submit | None = None, hook: Hook | None = None) -> None:
        self._submit = submit
        self._hook = hook
        self._pending: set[asyncio.Task[None]] = set()

    def notify(self, rule: AlertRule, event: AlertEvent) -> None:
        if rule.log:
            logger.warning(
                "alert %s %s (%s): %s", event.rule, event.state.upper(), event.severity,
                event.message,
            )  # fmt: skip
        if rule.notify_task is not None and self._submit is not None:
            self._spawn(self._run_task(rule.notify_task, event))
        if self._hook is not None:
            self._spawn(self._hook(event))

    async def _run_task(self, task: str, event: AlertEvent) -> None:
        assert self._submit is not None
        try:
            run = await self._submit(task, {"alert": msgspec.to_builtins(event)})
        except Exception as exc:
            logger.error("alert %s: could not submit task %s: %s", event.rule, task, exc)
            return
        logger.info("alert %s %s: submitted run %s of task %s", event.rule, event.state,
                    getattr(run, "id", "?"), task)  # fmt: skip

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def stop(self, timeout: float = 5.0) -> None:
        """Give notifications under way ``timeout`` seconds, then cancel them."""
        if self._pending:
            _, late = await asyncio.wait(list(self._pending), timeout=timeout)
            for task in late:
                task.cancel()
