"""Crash safety: a writer killed in the middle of heavy, concurrent writing.

Its own module because it is the one case that needs another process (``crash_writer``,
SIGKILLed while it writes) and so the ``store_spec`` fixture: how that process opens
the same store as ``make_backend``.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import msgspec
import pytest

from seqd.model.runs import RunQuery
from seqd.testing.storage.support import BackendMaker, Cases, StoreSpec, all_pages, new_run, opened


class CrashCases(Cases):
    """A store survives its writer being killed."""

    @pytest.fixture
    def store_spec(self) -> StoreSpec:
        """Override: the same store as ``make_backend``, as a ``StoreSpec``."""
        pytest.fail(f"{type(self).__name__} must provide a store_spec fixture")

    def test_killed_writer_leaves_readable_store(
        self, make_backend: BackendMaker, store_spec: StoreSpec
    ) -> None:
        """A process SIGKILLed in the middle of heavy, concurrent writing leaves a store
        that opens and holds every write it had been told was done, and every batch of
        runs whole or not at all."""
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "seqd.testing.storage.crash_writer",
                msgspec.json.encode(store_spec).decode(),
            ],
            stdout=subprocess.PIPE,
        )
        seen: list[bytes] = []
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == b"open"
            deadline = time.monotonic() + 20
            updated = 0
            for line in child.stdout:
                seen.append(line)
                updated += line.startswith(b"u ")
                if updated >= 300 or time.monotonic() > deadline:
                    break
            child.send_signal(signal.SIGKILL)
            rest, _ = child.communicate(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        # Each line was printed after its write was acknowledged; a torn last line is
        # dropped by the split.
        acked = [ln.split() for ln in b"".join([*seen, rest]).decode().split("\n")[:-1]]
        created = {f[1] for f in acked if f[0] == "c"}
        done = {f[1] for f in acked if f[0] == "u"}
        logged: dict[str, int] = {}
        for f in acked:
            if f[0] == "l":
                logged[f[1]] = max(logged.get(f[1], 0), int(f[2]))
        batches = [f[1].split(",") for f in acked if f[0] == "b"]
        batches_done = {f[1] for f in acked if f[0] == "B"}
        assert done, "the writer acknowledged nothing before it was killed"

        async def check() -> None:
            async with opened(make_backend) as backend:
                for run_id in created:
                    run = await backend.get_run(run_id)
                    assert run is not None, f"acknowledged create of {run_id} was lost"
                    if run_id in done:
                        assert run.status == "succeeded", run
                for ids in batches:  # all or none, and all once acknowledged
                    found = [await backend.get_run(run_id) is not None for run_id in ids]
                    assert all(found) or not any(found), f"a batch was cut: {found}"
                    if ids[0] in batches_done:
                        assert all(found), f"acknowledged batch {ids[0]} was lost"
                for run_id, last in logged.items():
                    got = await backend.read_logs(run_id, 0, last + 100)
                    assert [x.seq for x in got[:last]] == list(range(1, last + 1))
                # the store still takes writes, and lists what it holds
                fresh = new_run(task="crash0")
                assert (await backend.create_run(fresh))[1]
                listed = await all_pages(backend, RunQuery(task="crash0", limit=100))
                assert fresh.id in listed

        self.run(check())
