"""Child process of the conformance suite's crash test: writes from many tasks at once
until it is killed, printing each write after it was acknowledged. Its own module
because it runs as its own process (``crash`` starts and kills it).

``python -m seqd.testing.storage.crash_writer '<json StoreSpec>' [--hold]``; the
backend is claimed and opened through the plugin host, as the daemon does, so any
installed backend can be tested. Output lines: ``open`` once, then ``c ID`` (created),
``u ID`` (updated to succeeded), ``l ID SEQ`` (log lines up to SEQ), ``b ID,ID,...`` (a
batch about to be created) and ``B ID`` (the batch of that first id was created). With
``--hold`` it writes nothing: it holds the store until it is killed.
"""

from __future__ import annotations

import asyncio
import sys

import msgspec

from seqd.plugins.host import PluginHost
from seqd.plugins.storage import StorageBackend, StorageContext
from seqd.testing.storage.support import StoreSpec, changed, lines, new_run

RUN_WRITERS = 8
LOG_WRITERS = 2


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


async def _runs(store: StorageBackend, writer: int) -> None:
    while True:
        run = new_run(task=f"crash{writer}", input={"pad": "x" * 300})
        await store.create_run(run)
        _say(f"c {run.id}")
        await store.update_run(changed(run, status="running"), expect=["queued"])
        await store.update_run(changed(run, status="succeeded", output=writer), expect=["running"])
        _say(f"u {run.id}")


async def _batches(store: StorageBackend) -> None:
    while True:
        runs = [new_run(task="crashbatch", input={"i": i, "pad": "y" * 200}) for i in range(10)]
        _say("b " + ",".join(run.id for run in runs))
        await store.create_runs(runs)
        _say(f"B {runs[0].id}")
        await asyncio.sleep(0.005)  # one writer of eleven: leave the store to the others


async def _logs(store: StorageBackend, writer: int) -> None:
    run = new_run(task="crashlogs")
    await store.create_run(run)
    while True:
        seq = await store.append_logs(run.id, lines(f"{writer}a", f"{writer}b" * 50))
        _say(f"l {run.id} {seq}")


async def write_until_killed(spec: StoreSpec) -> None:
    host = PluginHost()
    host.load()
    factory = host.storage.get(spec.name)
    if factory is None:
        raise SystemExit(f"no storage backend {spec.name!r}")
    store = factory.create(dict(spec.options), StorageContext(spec.state_dir, spec.durability))
    await store.claim()  # as the daemon does: the store is this process's until it dies
    await store.open()
    _say("open")
    if "--hold" in sys.argv:  # only hold the claim (the claim cases)
        await asyncio.Event().wait()
    await asyncio.gather(
        *(_runs(store, w) for w in range(RUN_WRITERS)),
        *(_logs(store, w) for w in range(LOG_WRITERS)),
        _batches(store),
    )


if __name__ == "__main__":
    asyncio.run(write_until_killed(msgspec.json.decode(sys.argv[1], type=StoreSpec)))
