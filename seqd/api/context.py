"""What the RPC handlers may reach of the daemon, as an interface.

The handlers are written against this Protocol rather than the assembled ``App``
(``seqd.daemon.app``), so the dependency points one way: the daemon builds the
handlers, the handlers never import the daemon.
"""

from __future__ import annotations

from typing import Protocol

from seqd.access.policy import Policy
from seqd.access.tokens import TokenStore
from seqd.catalog.catalog import Catalog
from seqd.config.settings import Config
from seqd.engine import Engine
from seqd.events.bus import EventBus
from seqd.observe.hub import Observability
from seqd.plugins.host import PluginHost
from seqd.plugins.storage import StorageBackend
from seqd.rpc.server import Server
from seqd.rpc.status import ReloadResult
from seqd.scheduler.operations import Operations
from seqd.storage.retention import Pruner
from seqd.tools.ratelimit import KeyedBuckets
from seqd.tools.service import ToolService


class Daemon(Protocol):
    """The parts of a running daemon that handlers use."""

    config: Config
    access: Policy
    """Who may do what, and what each caller sees."""
    host: PluginHost
    storage: StorageBackend
    catalog: Catalog
    engine: Engine
    pruner: Pruner
    events: EventBus
    """Where stored writes are announced and subscriptions are routed."""
    tools: ToolService
    tokens: TokenStore
    """Access tokens (``tokens.*``), checked by ``DaemonInfo.api``."""
    observe: Observability
    schedules: Operations
    server: Server | None
    rpc_limits: KeyedBuckets | None
    node: str

    @property
    def socket_path(self) -> str: ...

    state_dir: str
    started: float
    """``time.monotonic()`` when the daemon started."""

    async def reload(self) -> ReloadResult:
        """Re-read the task and tool folders."""
        ...

    def request_stop(self, reason: str) -> None:
        """Begin a graceful shutdown."""
        ...
