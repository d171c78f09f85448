"""This daemon as a node of a shared store: how it describes itself when it joins.

Its own module so that the assembly (``app``) stays one line for multi-node: the engine
joins the store with this description only when the store is shared (PostgreSQL).
"""

from __future__ import annotations

import os
import secrets
import socket

from seqd import __version__
from seqd.model import timeutil
from seqd.model.nodes import NodeInfo


def node_info(name: str, workers: int) -> NodeInfo:
    """A new node for this process: its id is unique per start (``<name>-<pid>-<hex>``),
    so that a restarted daemon never mistakes its earlier life's leases for its own."""
    return NodeInfo(
        id=f"{name}-{os.getpid()}-{secrets.token_hex(3)}",
        name=name,
        host=socket.gethostname(),
        pid=os.getpid(),
        version=__version__,
        started_at=timeutil.now(),
        workers=workers,
    )
