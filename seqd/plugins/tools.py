"""The tool interface: named callables with schemas, from plugins and tool folders.

Tools are called from task code, flow states and ``seqctl tools call``; every call goes
through ``seqd.tools.service.ToolService``, which validates the params against the tool's
schema, applies the rate limits, emits the tracer event and hands the tool a
``ToolContext`` saying who calls and what that caller may touch. A tool never has to
check its params itself, and never decides on its own which files it may reach.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import msgspec

from seqd.config.secrets import Secrets
from seqd.model.roles import Role

if TYPE_CHECKING:
    from seqd.config.settings import Config
    from seqd.model.runs import KVEntry, Run


class ToolCaller(msgspec.Struct, kw_only=True, frozen=True):
    """Who calls: an RPC client (``uid``) or a run (``run_id``, ``task``, ``root_id``)
    acting for its submitter (``uid``; None: a run the daemon started itself)."""

    kind: Literal["rpc", "run"]
    uid: int | None = None
    run_id: str | None = None
    task: str | None = None
    root_id: str | None = None
    role: Role = "none"
    """The caller's role (a run's is its submitter's): decides which tools it may call."""
    trace_id: str | None = None
    """A run's call: the run's trace id; the call is span ``span_id`` of that trace,
    under ``parent_span_id`` (the run's span, or the span of the step that calls)."""
    span_id: str | None = None
    parent_span_id: str | None = None

    @property
    def admin(self) -> bool:
        return self.role == "admin"


Scope = Literal["run", "task", "global"]
"""Where ``file.*`` paths point: the run's scratch dir, the task's dir, the global dir."""


class KVStore(Protocol):
    """The key-value state as tools see it (storage behind an LRU cache)."""

    async def get(self, namespace: str, key: str) -> KVEntry | None: ...
    async def set(self, namespace: str, key: str, value: Any) -> KVEntry: ...
    async def delete(self, namespace: str, key: str) -> bool: ...
    async def list(
        self, namespace: str, prefix: str = "", after: str | None = None, limit: int = 100
    ) -> list[KVEntry]: ...


class RunStarter(Protocol):
    """Starting a run and waiting for it (the engine)."""

    async def submit(
        self,
        task: str,
        data: dict[str, Any],
        *,
        idempotency_key: str | None = None,
        idempotency_scope: str | None = None,
        priority: int = 0,
        submitted_by: int | None = None,
        parent_id: str | None = None,
        root_id: str | None = None,
        parent_span_id: str | None = None,
    ) -> Run: ...

    async def wait(self, run_id: str, timeout_s: float | None) -> Run: ...


def _log_nowhere(stream: str, text: str) -> None:
    return None


@dataclass(frozen=True)
class ToolContext:
    """What one call may use and reach; made by the tool service per call."""

    caller: ToolCaller
    roots: dict[str, str]
    """Allowed ``file.*`` roots by scope (``run``, ``task``, ``global``): real, absolute
    paths. A scope missing here is not open to this caller."""
    default_scope: str
    """The scope used when the params name none."""
    http_allow_hosts: list[str] | None
    """Hosts ``http.request`` may reach (``*.example.com`` matches subdomains); None:
    any host."""
    kv: KVStore
    runs: RunStarter
    state_dir: str
    config: Config
    """The daemon's config (``config.tools`` holds the tools' limits)."""
    http_allow_networks: list[str] = field(default_factory=list)
    """Networks (CIDR) ``http.request`` may reach although they are not global
    (loopback, private...); every global address is allowed (if its host is)."""
    log: Callable[[str, str], None] = field(default=_log_nowhere)
    """``log(stream, text)``: a line for the caller's log (a run's log, or nowhere)."""
    task_type: Callable[[str], Any] = field(default=lambda _name: None)
    """The daemon's task types by name, or None (``shell.exec`` runs its commands
    through the ``shell`` task type's spawner)."""
    secrets: Secrets = field(default_factory=Secrets)
    """The daemon's secrets: for values a tool's config takes from one
    (``{secret = "<name>"}``). Never put one in a result: results are masked."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Room for what later callers add (flows, the step journal) without a new field."""


@runtime_checkable
class Tool(Protocol):
    name: str
    """Dotted name, e.g. ``http.request``: ``[a-z0-9][a-z0-9_-]*`` parts joined by dots."""
    description: str

    @property
    def params_schema(self) -> dict[str, Any] | type[msgspec.Struct]:
        """JSON Schema of the params object, or a ``msgspec.Struct`` type (its JSON
        Schema is derived; the tool then receives an instance of it, not a dict). A plain
        class attribute does."""

    @property
    def result_schema(self) -> dict[str, Any] | type[Any]:
        """JSON Schema of the result, or a type msgspec can describe."""

    async def call(self, params: Any, ctx: ToolContext) -> Any:
        """Run with already validated ``params``; return a JSON-serialisable result
        (Structs are fine). Raise a ``seqd.errors.SeqdError`` — usually ``ToolFailed``
        with ``details.reason`` — to fail; anything else is reported as a crash."""


ToolCallable = Callable[[Any, ToolContext], Awaitable[Any]]
