"""Nodes: the daemons that share one store and its queue (multi-node on PostgreSQL).

★ shapes clients see (``nodes.list``). A node row is written by the node itself when it
joins and renewed by its heartbeat; ``expires_at`` is the end of its lease: once past,
another node takes its runs over. Times are RFC 3339 UTC text, like every stored time.
"""

from __future__ import annotations

from typing import Literal

from seqd.model.runs import Model


class NodeInfo(Model, kw_only=True):
    """What a node says of itself when it joins (stored as its row's ``data``)."""

    id: str
    """Unique per daemon process: ``<name>-<pid>-<random>``; a restart is a new node."""
    name: str
    """The configured ``node`` (default: the host name)."""
    host: str
    pid: int
    version: str
    started_at: str
    workers: int


class Node(Model, kw_only=True):
    """A node as ``nodes.list`` shows it: what it said when joining, plus its lease."""

    info: NodeInfo
    heartbeat_at: str
    expires_at: str
    alive: bool
    """Its lease has not run out (a dead node's row stays until its runs are taken)."""
    runs_held: int
    """Unfinished runs (queued, running, suspended) this node holds."""


NoteKind = Literal["queued", "ended", "cancel", "signal", "dead", "lost"]


class Note(Model, kw_only=True):
    """A message between the nodes of one store (``LISTEN``/``NOTIFY``), or from a
    node's own lease keeping: ``queued`` (runs are waiting to be claimed), ``ended``
    (``run_id`` has finished; ``text`` is its task), ``cancel`` / ``signal``
    (``run_id`` is to be cancelled, or got signal ``text``, wherever it runs),
    ``dead`` (a node's lease ran out: take its runs over), ``lost`` (this node's own
    leases were taken over)."""

    kind: NoteKind
    run_id: str = ""
    text: str = ""
