"""Python clients for the seqd daemon (JSON-RPC 2.0 over its Unix socket).

``Client`` is blocking and imports no asyncio (it is what ``seqctl`` uses);
``AsyncClient`` pipelines many calls on one connection. Both raise ``RpcError`` when
the daemon refuses a request, ``DaemonUnreachable`` when it cannot be reached, and
``ProtocolError`` when the peer does not speak JSON-RPC. ``AsyncClient`` is imported on
first use so that ``from seqd.client import Client`` stays free of asyncio.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from seqd.client._codec import (
    ClientError,
    DaemonUnreachable,
    Notification,
    ProtocolError,
    RpcError,
)
from seqd.client.sync import Client

if TYPE_CHECKING:
    from seqd.client.aio import AsyncClient

__all__ = [
    "AsyncClient",
    "Client",
    "ClientError",
    "DaemonUnreachable",
    "Notification",
    "ProtocolError",
    "RpcError",
]


def __getattr__(name: str) -> Any:
    if name == "AsyncClient":
        from seqd.client.aio import AsyncClient

        return AsyncClient
    raise AttributeError(f"module 'seqd.client' has no attribute {name!r}")
