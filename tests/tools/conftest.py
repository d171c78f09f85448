"""An in-process ToolService on a real SQLite store and real folders under tmp_path,
for the tests that need to act between a check and an open, or to see trace events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import pytest

from seqd.access.policy import Policy
from seqd.access.roles import Roles
from seqd.builtin.storage.sqlite.backend import SQLiteBackend
from seqd.config.settings import Config
from seqd.errors import NotRunnable
from seqd.model.roles import Role
from seqd.model.runs import Run
from seqd.plugins.host import PluginHost
from seqd.plugins.tools import ToolCaller
from seqd.plugins.tracing import TraceEvent
from seqd.testing.storage import run_async
from seqd.tools.folder import FolderTools
from seqd.tools.service import ToolService

T = TypeVar("T")


class NoRuns:
    """The engine's place for services that never start runs (task.run is tested
    against a real daemon in test_tools_daemon.py)."""

    async def submit(self, task: str, data: dict[str, Any], **kw: Any) -> Run:
        raise NotRunnable("no engine in this test", {"task": task})

    async def wait(self, run_id: str, timeout_s: float | None) -> Run:
        raise NotRunnable("no engine in this test")


@dataclass
class Env:
    base: Path
    events: list[TraceEvent] = field(default_factory=list)

    @property
    def state_dir(self) -> Path:
        return self.base / "state"

    @asynccontextmanager
    async def service(
        self, plugins: dict[str, object] | None = None, **tools_config: Any
    ) -> AsyncIterator[ToolService]:
        config = msgspec.convert({"state_dir": str(self.state_dir), "tools": tools_config}, Config)
        host = PluginHost()
        for name, plugin in (plugins or {}).items():
            host.register(name, plugin)
        host.load(entry_points=False)
        storage = SQLiteBackend(str(self.state_dir / "seqd.db"))
        await storage.open()
        try:
            service = ToolService(
                registry=host.tools,
                folders=FolderTools([str(self.base / "tools")], host.task_types),
                config=config,
                state_dir=str(self.state_dir),
                storage=storage,
                runs=NoRuns(),
                emit=self.events.append,
                access=Policy(config, Roles(config.access)),
            )
            await service.start()
            yield service
        finally:
            await storage.close()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return run_async(coro, 60)


RPC = ToolCaller(kind="rpc", uid=0, role="admin")
USER = ToolCaller(kind="rpc", uid=12345, role="operator")


def run_caller(
    run_id: str = "0123456789abcdef01234567", task: str = "job", role: Role = "admin"
) -> ToolCaller:
    """A run acting for its submitter; by default the daemon's own user (an admin)."""
    return ToolCaller(kind="run", run_id=run_id, task=task, root_id=run_id, role=role)


@pytest.fixture
def env(tmp_path: Path) -> Env:
    (tmp_path / "state").mkdir()
    return Env(tmp_path)


def gather(*aws: Coroutine[Any, Any, Any]) -> Callable[[], Any]:
    return lambda: asyncio.gather(*aws)
