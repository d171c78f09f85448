"""The pool's bookkeeping with real workers: warm reserve, retirement, stop."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable

import pytest

from seqd.runtime.workerpool.pool import PoolSettings, WorkerPool

pytestmark = pytest.mark.timeout(60)


def run(body: Callable[[WorkerPool], Awaitable[None]], **settings: object) -> None:
    async def main() -> None:
        pool = WorkerPool(PoolSettings(**settings), max_idle=2)  # type: ignore[arg-type]
        await pool.start()
        try:
            await body(pool)
        finally:
            await pool.stop(5)
        assert pool.stats()["workers"] == 0

    asyncio.run(main())


async def until(check: Callable[[], bool]) -> None:
    for _ in range(400):
        if check():
            return
        await asyncio.sleep(0.025)
    raise AssertionError("condition not reached")


def test_prestart_and_warm_reserve_after_retirement() -> None:
    async def body(pool: WorkerPool) -> None:
        assert pool.stats()["idle"] == 2
        worker = await pool.acquire()
        assert pool.stats()["busy"] == 1
        worker.end_run()
        pool.release(worker, reuse=False)
        await worker.wait_exit(20)
        assert not worker.alive
        await until(lambda: pool.stats()["idle"] == 2)
        assert pool.stats()["spawned"] == 3
        assert pool.stats()["killed"] == 0  # discarded, not cancelled

    run(body, prestart=2)


def test_acquire_claims_a_starting_worker_instead_of_spawning_another() -> None:
    async def body(pool: WorkerPool) -> None:
        first = await pool.acquire()
        first.end_run()
        pool.release(first, reuse=False)  # the reserve starts a replacement
        second = await pool.acquire()  # claims it
        assert second is not first
        assert pool.stats()["spawned"] == 2

    run(body, prestart=1)


def test_surplus_idle_workers_are_retired() -> None:
    async def body(pool: WorkerPool) -> None:
        workers = [await pool.acquire() for _ in range(4)]
        for w in workers:
            w.end_run()
            pool.release(w, reuse=True)
        assert pool.stats()["idle"] == 2
        await until(lambda: pool.stats()["workers"] == 2)

    run(body, prestart=0)


def test_idle_worker_killed_from_outside_is_replaced() -> None:
    async def body(pool: WorkerPool) -> None:
        (victim,) = pool._idle
        os.kill(victim.pid, 9)
        await victim.wait_exit(20)
        await until(lambda: pool.stats()["idle"] == 1 and pool._idle[0] is not victim)

    run(body, prestart=1)


def test_acquire_after_stop_is_refused() -> None:
    async def main() -> None:
        pool = WorkerPool(PoolSettings(prestart=1), max_idle=1)
        await pool.start()
        await pool.stop(5)
        with pytest.raises(RuntimeError, match="stopping"):
            await pool.acquire()

    asyncio.run(main())
