"""Wire types of the daemon's own methods: ``daemon.*`` (status, reload, shutdown),
``plugins.list`` and ``tasks.*``.

Its own module, as each area's wire types are; ``protocol.METHODS`` lists the methods.
"""

from __future__ import annotations

import msgspec

from seqd.model.nodes import Node
from seqd.model.tasks import Problem, TaskSummary
from seqd.rpc.observing import (
    TracerInfo,
)
from seqd.rpc.params import (
    Params,
    TaskName,
)


class PluginInfo(msgspec.Struct, kw_only=True):
    name: str
    version: str | None
    source: str
    """``builtin`` or ``entry-point``."""
    kinds: list[str]
    contributes: dict[str, list[str]]
    error: str | None = None


class PluginsResult(msgspec.Struct, kw_only=True):
    plugins: list[PluginInfo]


class NodesResult(msgspec.Struct, kw_only=True):
    """``nodes.list``: the daemons sharing this one's store (this one alone on a store
    that is not shared, ``shared`` false)."""

    shared: bool
    node_id: str
    """This daemon's node id."""
    nodes: list[Node]


class ClusterInfo(msgspec.Struct, kw_only=True):
    """``daemon.status`` on a shared store: this node, and how many nodes are alive
    (as of this node's last heartbeat)."""

    node_id: str
    lease_s: float
    nodes_alive: int


class StorageInfo(msgspec.Struct, kw_only=True):
    name: str
    location: str | None
    """None for callers that are not admins."""


class WorkerInfo(msgspec.Struct, kw_only=True):
    max: int
    busy: int
    queued: int
    coordinating: int = 0
    """Runs in progress that hold no worker (flows waiting on their states)."""
    pools: dict[str, dict[str, int]] = {}


class LimitsInfo(msgspec.Struct, kw_only=True):
    max_line_bytes: int
    max_connections: int
    log_cap_bytes: int


class BucketInfo(msgspec.Struct, kw_only=True):
    rate_per_s: float
    burst: int
    tokens: float
    limited: int
    """Calls refused so far."""


class RateLimitsInfo(msgspec.Struct, kw_only=True):
    rpc_rate_per_s: float
    """Per client uid; 0 when there is no limit."""
    rpc_burst: int
    rpc_clients: dict[str, BucketInfo] = {}
    """By uid, for the clients seen lately."""
    tools: dict[str, BucketInfo] = {}
    """By tool name, for the tools that have a configured rate."""


class StatusResult(msgspec.Struct, kw_only=True):
    version: str
    protocol: str
    pid: int
    uptime_s: float
    node: str
    storage: StorageInfo
    socket: str | None
    """None (like ``state_dir`` and ``task_dirs``) for callers that are not admins."""
    state_dir: str | None
    task_dirs: list[str] | None
    plugins: list[str]
    runs: dict[str, int]
    workers: WorkerInfo
    tasks: int
    connections: int
    rss_bytes: int
    limits: LimitsInfo
    tools: int = 0
    rate_limits: RateLimitsInfo | None = None
    tracers: dict[str, TracerInfo] = {}
    """Per tracer: events queued, delivered, dropped (it was behind), failed."""
    subscriptions: int = 0
    """Event subscriptions open (``events.subscribe``)."""
    cluster: ClusterInfo | None = None
    """Set when the store is shared by several nodes (PostgreSQL)."""


class ReloadResult(msgspec.Struct, kw_only=True):
    tasks: int
    changed: list[str]
    invalid: list[str]


class ShutdownResult(msgspec.Struct, kw_only=True):
    stopping: bool


class TaskListParams(Params, kw_only=True):
    tag: str | None = None


class TaskListResult(msgspec.Struct, kw_only=True):
    tasks: list[TaskSummary]


class TaskNameParams(Params, kw_only=True):
    name: TaskName


class ValidateResult(msgspec.Struct, kw_only=True):
    ok: bool
    problems: list[Problem]
    warnings: list[Problem] = []
    """Legal but risky (a ``{name}`` placeholder inside a ``sh -c`` script): the task
    still runs."""
