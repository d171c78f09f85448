"""Running several pieces of work at once and joining their outcomes (``join``).

The branches of a parallel state and the items of a map state: each runs in its own
asyncio task and scope, at most ``concurrency`` at once; ``all`` fails at the first
failure (cancelling the rest unless told not to), ``any`` takes the first success,
``all_settled`` waits for all. Its own module because this is the only place that
juggles asyncio tasks and cancellation reasons; it knows nothing of states or the
journal, only of work, outcomes and the join policy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from seqd.flow.cancelscope import Scope
from seqd.flow.graph import Join
from seqd.flow.outcome import Outcome, StateFailed, failed, plain, result_entry

Work = Callable[[Scope], Awaitable[Any]]
"""One branch or map item: a coroutine function of the scope it runs in."""


async def run_joined(
    name: str,
    akey: str,
    what: str,
    jobs: list[Work],
    join: Join,
    cancel_on_failure: bool,
    concurrency: int,
    scope: Scope,
) -> Outcome:
    """Run ``jobs`` at most ``concurrency`` at once (0: all), each in its own task
    and scope (keys under ``<akey>[i]/``), and join them by ``join``."""
    limit = asyncio.Semaphore(concurrency if concurrency > 0 else max(1, len(jobs)))
    scopes = [scope.under(f"{akey}[{i}]/") for i in range(len(jobs))]

    async def one(i: int) -> Any:
        async with limit:
            return await jobs[i](scopes[i])

    tasks = [asyncio.ensure_future(one(i)) for i in range(len(jobs))]
    results: list[Outcome | None] = [None] * len(tasks)
    pending = set(tasks)
    winner: int | None = None
    first_failure: int | None = None
    try:
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                i = tasks.index(task)
                results[i] = _settled(task)
                result = results[i]
                assert result is not None
                if join == "any" and result.ok and winner is None:
                    winner = i
                if join == "all" and not result.ok and first_failure is None:
                    first_failure = i
            stop_why: str | None = None
            if winner is not None:
                stop_why = f"{what} {winner} of {name!r} finished first"
            elif first_failure is not None and cancel_on_failure:
                stop_why = f"{what} {first_failure} of {name!r} failed"
            if stop_why is not None and pending:
                for i, task in enumerate(tasks):
                    if task in pending:
                        scopes[i].why = stop_why
                        task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
                for i in range(len(tasks)):
                    if results[i] is None:
                        results[i] = failed(type="cancelled", message=stop_why)
                pending = set()
    except asyncio.CancelledError:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    settled = [r for r in results if r is not None]
    return _joined(name, what, join, settled, winner, first_failure)


def _joined(
    name: str,
    what: str,
    join: Join,
    settled: list[Outcome],
    winner: int | None,
    first_failure: int | None,
) -> Outcome:
    """The state's outcome from its settled pieces, by ``join``."""
    if join == "any":
        if winner is not None:
            return Outcome(True, settled[winner].output)
        errors = [plain(r.error) for r in settled if r.error]
        return failed(
            type=settled[-1].error.type if settled and settled[-1].error else "failed",
            message=f"every {what} of {name!r} failed",
            details={"state": name, "errors": errors},
        )
    if join == "all_settled":
        return Outcome(True, [result_entry(r.ok, r.output, r.error) for r in settled])
    failures = [(i, r) for i, r in enumerate(settled) if not r.ok]
    if failures:
        i, first = failures[0] if first_failure is None else (first_failure, settled[first_failure])
        assert first.error is not None
        return failed(
            type=first.error.type,
            message=f"{what} {i} of {name!r} failed: {first.error.message}",
            details={
                "state": name,
                what: i,
                "errors": {str(j): plain(r.error) for j, r in failures if r.error},
            },
        )
    return Outcome(True, [r.output for r in settled])


def _settled(task: asyncio.Task[Any]) -> Outcome:
    if task.cancelled():
        return failed(type="cancelled", message="cancelled")
    exc = task.exception()
    if exc is None:
        return Outcome(True, task.result())
    if isinstance(exc, StateFailed):
        return Outcome(False, error=exc.error)
    raise exc
