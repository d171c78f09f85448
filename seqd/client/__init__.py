"""Python clients for the seqd daemon (JSON-RPC 2.0 over its Unix socket).

``Client`` is blocking and imports no asyncio (it is what ``seqctl`` uses, with
``typed=False``: no msgspec either); ``AsyncClient`` pipelines many calls on one
connection. Both raise ``RpcError`` when the daemon refuses a request,
``DaemonUnreachable`` when it cannot be reached (``UntrustedDaemon`` when whoever
listens on the socket is not a uid it may talk to: see ``_peer``), and
``ProtocolError`` when the peer does not speak JSON-RPC; ``subscribe`` streams events
(``for``/``async for``) and raises ``SubscriptionCut`` when the daemon ends the
subscription. ``AsyncClient``,
``Notification`` (a msgspec Struct) and ``AttrDict`` are imported on first use, so
that ``from seqd.client import Client`` stays free of asyncio, msgspec and ``typing``.

The methods are defined once, in ``_methods``, as steps that both clients run;
``sync`` and ``aio`` only move bytes. ``_calls`` is how a method call runs whatever
the I/O (steps, ids, lines, timeouts, results, the events of subscriptions),
``_declare`` how steps become methods, ``_codec`` the messages and errors both codecs
share, ``_typed`` and ``_plain`` the two codecs.

May import: ``seqd.rpc`` (``protocol``, ``strictjson``), ``seqd.model``,
``seqd.errors`` and ``seqd.config.paths`` — never the daemon side.
"""

from __future__ import annotations

from seqd.client._codec import (
    ClientError,
    DaemonUnreachable,
    ProtocolError,
    RpcError,
    SubscriptionCut,
)
from seqd.client._peer import UntrustedDaemon
from seqd.client.sync import Client

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from seqd.client._plain import AttrDict
    from seqd.client.aio import AsyncClient
    from seqd.client.notification import Notification

__all__ = [
    "AsyncClient",
    "AttrDict",
    "Client",
    "ClientError",
    "DaemonUnreachable",
    "Notification",
    "ProtocolError",
    "RpcError",
    "SubscriptionCut",
    "UntrustedDaemon",
]


def __getattr__(name: str) -> Any:
    if name == "AsyncClient":
        from seqd.client.aio import AsyncClient

        return AsyncClient
    if name == "Notification":
        from seqd.client.notification import Notification

        return Notification
    if name == "AttrDict":
        from seqd.client._plain import AttrDict

        return AttrDict
    raise AttributeError(f"module 'seqd.client' has no attribute {name!r}")
