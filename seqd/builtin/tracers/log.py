"""Built-in tracer: run transitions and daemon lifecycle into the daemon's log
(debug level for transitions, so a busy daemon stays quiet by default)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from seqd import hookimpl
from seqd.plugins.tracing import DaemonLifecycle, RunTransition, TraceEvent, Tracer

logger = logging.getLogger(__name__)


class LogTracer:
    name = "log"
    events = (RunTransition, DaemonLifecycle)

    def on_event(self, event: TraceEvent) -> None:
        if isinstance(event, RunTransition):
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug(
                    "run %s (%s): %s -> %s%s",
                    event.run_id,
                    event.task,
                    event.from_status or "new",
                    event.to_status,
                    f" ({event.reason})" if event.reason else "",
                )
        elif isinstance(event, DaemonLifecycle):
            logger.debug("daemon %s %s", event.phase, event.details or "")


@hookimpl
def seqd_register_tracers(register: Callable[[Tracer], None]) -> None:
    register(LogTracer())
