"""Child process of the conformance suite's crash test: writes until it is killed,
printing each run id once all of its writes were acknowledged.

``python -m seqd.testing.crash_writer '<json spec>'`` with the spec
``{"name", "options", "state_dir", "durability"}``; the backend is opened through the
plugin host, so any installed backend can be tested.
"""

from __future__ import annotations

import asyncio
import sys

import msgspec

from seqd.plugins import PluginHost
from seqd.storage import StorageContext


class Spec(msgspec.Struct):
    name: str
    options: dict[str, object]
    state_dir: str
    durability: str = "normal"


async def write_until_killed(spec: Spec) -> None:
    from seqd.testing.storage import lines, new_run

    host = PluginHost()
    host.load()
    factory = host.storage.get(spec.name)
    if factory is None:
        raise SystemExit(f"no storage backend {spec.name!r}")
    store = factory.create(dict(spec.options), StorageContext(spec.state_dir, spec.durability))
    await store.open()
    print("open", flush=True)
    while True:
        run = new_run(task="crash", input={"pad": "x" * 2000})
        await store.create_run(run)
        await store.append_logs(run.id, lines("one", "two", "three"))
        running = msgspec.structs.replace(run, status="running")
        await store.update_run(running, expect=("queued",))
        sys.stdout.write(run.id + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(write_until_killed(msgspec.json.decode(sys.argv[1], type=Spec)))
