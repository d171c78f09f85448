"""RPC handlers: thin functions from typed params to typed results.

Each namespace module exposes ``handlers(app) -> {method: handler}``; ``build`` joins
them, and the dispatcher refuses to start if any method of ``protocol.METHODS`` has no
handler.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from seqd.api import (
    daemon,
    events,
    nodes,
    observe,
    plugins,
    retention,
    rpc,
    runs,
    schedules,
    tasks,
    tokens,
    tools,
    traces,
)
from seqd.rpc.dispatch import Handler

if TYPE_CHECKING:
    from seqd.api.context import Daemon


def build(app: Daemon) -> dict[str, Handler]:
    table: dict[str, Handler] = {}
    for module in (
        daemon, plugins, nodes, tasks, runs, retention, traces, tools, schedules, observe, rpc,
        events, tokens,
    ):  # fmt: skip
        table.update(module.handlers(app))
    return table
