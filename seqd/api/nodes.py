"""``nodes.list``: the daemons sharing this one's store; ``daemon.status``'s cluster part."""

from __future__ import annotations

import os
import socket
import time
from typing import TYPE_CHECKING

from seqd import __version__
from seqd.model import timeutil
from seqd.model.nodes import Node, NodeInfo
from seqd.rpc.dispatch import Caller, Handler
from seqd.rpc.params import NoParams
from seqd.rpc.status import ClusterInfo, NodesResult

if TYPE_CHECKING:
    from seqd.api.context import Daemon


def cluster_info(app: Daemon) -> ClusterInfo | None:
    """This node in its cluster, or None when the store is not shared."""
    link = app.engine.cluster
    if link is None:
        return None
    shared = link.shared
    return ClusterInfo(
        node_id=shared.node_id, lease_s=shared.lease_s, nodes_alive=shared.nodes_alive
    )


def handlers(app: Daemon) -> dict[str, Handler]:
    async def list_nodes(params: NoParams, caller: Caller) -> NodesResult:
        link = app.engine.cluster
        if link is not None:
            nodes = await link.shared.nodes()
            return NodesResult(shared=True, node_id=link.shared.node_id, nodes=nodes)
        # A store of one daemon: this one, which holds every unfinished run.
        now = timeutil.now()
        info = NodeInfo(
            id=app.node,
            name=app.node,
            host=socket.gethostname(),
            pid=os.getpid(),
            version=__version__,
            started_at=timeutil.format_ts(time.time() - (time.monotonic() - app.started)),
            workers=app.engine.max_workers,
        )
        held = len(app.engine.transitions.live) + app.engine.metrics.counts.get("suspended", 0)
        node = Node(info=info, heartbeat_at=now, expires_at=now, alive=True, runs_held=held)
        return NodesResult(shared=False, node_id=app.node, nodes=[node])

    return {"nodes.list": list_nodes}
