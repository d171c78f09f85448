"""Read-only facts about a running daemon, handed to lifecycle hooks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from seqd.config.settings import Config
    from seqd.plugins.local import LocalApi
    from seqd.plugins.metrics import MetricsReader


@dataclass(frozen=True)
class DaemonInfo:
    version: str
    node: str
    pid: int
    socket: str
    state_dir: str
    storage: str
    config: Config
    metrics: MetricsReader | None = None
    """The daemon's metrics, for exporter plugins (``seqd.plugins.metrics``); None
    when ``metrics.enabled`` is false."""
    api: LocalApi | None = None
    """The daemon's API in-process (``seqd.plugins.local``): call any RPC method as a
    user, through the same dispatch, roles and errors as the socket, and receive its
    event notifications. Calls wait until the daemon serves."""
