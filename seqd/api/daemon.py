"""``daemon.*``: ping, status, reload, shutdown."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

import msgspec
import psutil

from seqd import __version__
from seqd.api.nodes import cluster_info
from seqd.model.status import RUN_STATUSES
from seqd.rpc.dispatch import Caller, Handler
from seqd.rpc.observing import TracerInfo
from seqd.rpc.params import NoParams
from seqd.rpc.protocol import PROTOCOL_VERSION
from seqd.rpc.status import (
    BucketInfo,
    LimitsInfo,
    RateLimitsInfo,
    ReloadResult,
    ShutdownResult,
    StatusResult,
    StorageInfo,
    WorkerInfo,
)

if TYPE_CHECKING:
    from seqd.api.context import Daemon


def handlers(app: Daemon) -> dict[str, Handler]:
    process = psutil.Process(os.getpid())

    def ping(params: NoParams, caller: Caller) -> str:
        return "pong"

    async def status(params: NoParams, caller: Caller) -> StatusResult:
        # One daemon counts runs as they change (seqd.observe.runs), not over the stored
        # runs: the answer costs the same whatever the size of the history. Nodes of a
        # shared store ask it, at most once a second (seqd.engine.cluster_counts).
        cluster = app.engine.cluster
        counts = app.engine.metrics.counts if cluster is None else await cluster.counts.current()
        limits = app.config.limits
        pools = {
            name: tt.stats()
            for name, tt in zip(
                app.host.task_types.names(), app.host.task_types.items(), strict=True
            )
        }
        status = StatusResult(
            version=__version__,
            protocol=PROTOCOL_VERSION,
            pid=os.getpid(),
            uptime_s=round(time.monotonic() - app.started, 3),
            node=app.node,
            storage=StorageInfo(name=app.storage.name, location=app.storage.location),
            socket=app.socket_path,
            state_dir=app.state_dir,
            task_dirs=app.catalog.dirs,
            plugins=sorted(app.host.records),
            runs={s: counts.get(s, 0) for s in RUN_STATUSES},
            workers=WorkerInfo(pools=pools, **app.engine.stats()),
            tasks=len(app.catalog.entries),
            connections=len(app.server.connections) if app.server else 0,
            subscriptions=app.events.subscriptions,
            cluster=cluster_info(app),
            rss_bytes=process.memory_info().rss,
            limits=LimitsInfo(
                max_line_bytes=limits.max_line_bytes,
                max_connections=limits.max_connections,
                log_cap_bytes=limits.log_cap_bytes,
            ),
            tools=app.tools.count(),
            rate_limits=RateLimitsInfo(
                rpc_rate_per_s=limits.rpc_rate_per_s,
                rpc_burst=limits.rpc_burst,
                rpc_clients=(
                    {
                        uid: msgspec.convert(msgspec.to_builtins(state), BucketInfo)
                        for uid, state in app.rpc_limits.states().items()
                    }
                    if app.rpc_limits is not None
                    else {}
                ),
                tools=app.tools.rate_states(),
            ),
            tracers={name: TracerInfo(**stats) for name, stats in app.host.tracer_stats().items()},
        )
        return app.access.status_view(caller, status)

    async def reload(params: NoParams, caller: Caller) -> ReloadResult:
        return await app.reload()

    def shutdown(params: NoParams, caller: Caller) -> ShutdownResult:
        app.request_stop(f"daemon.shutdown from uid {caller.uid} (pid {caller.pid})")
        return ShutdownResult(stopping=True)

    return {
        "daemon.ping": ping,
        "daemon.status": status,
        "daemon.reload": reload,
        "daemon.shutdown": shutdown,
    }
