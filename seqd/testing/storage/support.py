"""What the conformance cases share, and what a backend's own tests may reuse: making
records, running a coroutine on the daemon's loop, opening a backend for a block,
walking every page of a listing, and the ``Cases`` base every group of cases extends.

Its own module because every group of cases (and the crash test's child process)
needs these, while none of them is a case itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, ClassVar, TypeVar

import msgspec
import uvloop

from seqd.model.ids import IdGenerator
from seqd.model.runs import LogStream, NewLogLine, NewStep, Run, RunQuery, RunStatus
from seqd.model.timeutil import now
from seqd.plugins.storage import StorageBackend

T = TypeVar("T")
B = TypeVar("B", bound=StorageBackend)
BackendMaker = Callable[[], StorageBackend]


class StoreSpec(msgspec.Struct):
    """How another process opens the same store: a backend name (installed, found
    through the plugin host), its options, a state dir and the durability."""

    name: str
    options: dict[str, Any]
    state_dir: str
    durability: str = "normal"


def run_async(coro: Coroutine[Any, Any, T], timeout_s: float = 60.0) -> T:
    """Run ``coro`` to completion on a new uvloop loop (the daemon's loop)."""

    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout_s)

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(bounded())


@asynccontextmanager
async def opened(make_backend: Callable[[], B]) -> AsyncIterator[B]:
    """Open a backend from ``make_backend`` for the block, and close it after."""
    backend = make_backend()
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()


_IDS = IdGenerator()


DEFAULT_SCOPE = "uid:1000"
"""The idempotency scope ``new_run`` gives a keyed run when none is named."""


def new_run(task: str = "t", status: RunStatus = "queued", **fields: Any) -> Run:
    """A run with a fresh id (ids from one generator increase with time); a keyed run
    is in ``DEFAULT_SCOPE`` unless ``idempotency_scope`` says otherwise."""
    if fields.get("idempotency_key") is not None:
        fields.setdefault("idempotency_scope", DEFAULT_SCOPE)
    return Run(id=_IDS.new(), task=task, status=status, created_at=now(), **fields)


def lines(*texts: str, stream: LogStream = "stdout") -> list[NewLogLine]:
    return [NewLogLine(ts=now(), stream=stream, text=text) for text in texts]


def new_step(kind: str, key: str, **fields: Any) -> NewStep:
    return NewStep(ts=now(), kind=kind, key=key, **fields)


def changed(run: Run, **changes: Any) -> Run:
    """A copy of ``run`` with ``changes`` applied (the record a writer would store)."""
    return msgspec.structs.replace(run, **changes)


async def all_pages(backend: StorageBackend, query: RunQuery) -> list[str]:
    """Every id the cursor chain yields, in order; fails on a cursor loop."""
    ids: list[str] = []
    cursor: str | None = None
    for _ in range(10_000):
        page = await backend.list_runs(msgspec.structs.replace(query, cursor=cursor))
        assert len(page.runs) <= query.limit
        ids.extend(r.id for r in page.runs)
        if page.next_cursor is None:
            return ids
        cursor = page.next_cursor
    raise AssertionError("list_runs cursors never ended")


class Cases:
    """Base of each group of cases: tests are plain functions that drive coroutines on a
    fresh uvloop loop, each bounded by ``timeout_s`` so a hang fails instead of stalling
    the run. The class that gathers them provides the ``make_backend`` fixture."""

    timeout_s: ClassVar[float] = 60.0

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return run_async(coro, self.timeout_s)


def made(answer: tuple[Run, int]) -> tuple[Run, bool]:
    """A ``create_run`` answer as (run, whether it was created): the position of a new
    run is > 0, an existing run comes with 0."""
    run, position = answer
    assert position >= 0, answer
    return run, position > 0
