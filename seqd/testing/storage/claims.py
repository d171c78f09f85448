"""One daemon per store: ``claim`` refuses a second holder, and ends with its holder.

Its own module because this is what keeps two daemons from running the same runs: a
second claim must fail (naming the holder's pid, for the refused daemon's message)
before it changed anything, and a holder that dies, however it dies, must not leave
the store claimed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import msgspec
import pytest

from seqd.plugins.storage import StoreHeld
from seqd.testing.storage.support import BackendMaker, Cases, StoreSpec, new_run, opened

RELEASE_WITHIN_S = 5.0
"""How soon a killed holder's claim must be free again."""


class ClaimCases(Cases):
    """``claim``: exclusive while held, free once its holder closed or died."""

    def test_second_claim_is_refused(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            holder = make_backend()
            await holder.claim()
            await holder.open()
            try:
                run = new_run()
                await holder.create_run(run)
                with pytest.raises(StoreHeld) as refused:
                    await make_backend().claim()
                assert refused.value.pid == os.getpid()
                assert refused.value.type == "storage_unavailable"
                assert f"(pid {os.getpid()}" in refused.value.message
                assert "holds the store at" in refused.value.message
                # The refused claim touched nothing: the holder carries on.
                assert await holder.get_run(run.id) == run
                assert await holder.append_logs(run.id, []) == 0
            finally:
                await holder.close()
            # Closed: the store may be claimed again, and holds what was written.
            again = make_backend()
            await again.claim()
            await again.open()
            try:
                assert await again.get_run(run.id) == run
            finally:
                await again.close()

        self.run(main())

    def test_claim_is_not_needed_to_read(self, make_backend: BackendMaker) -> None:
        """``seqd export`` opens a claimed store without claiming it, and reads."""

        async def main() -> None:
            holder = make_backend()
            await holder.claim()
            await holder.open()
            try:
                run = new_run(status="succeeded")
                await holder.create_run(run)
                async with opened(make_backend) as reader:
                    assert await reader.get_run(run.id) == run
            finally:
                await holder.close()

        self.run(main())

    def test_claim_ends_with_its_process(
        self, make_backend: BackendMaker, store_spec: StoreSpec
    ) -> None:
        """A holder SIGKILLed leaves no claim behind: the kernel (or the server) drops
        it with the process, so no daemon ever waits for a stale lock."""
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "seqd.testing.storage.crash_writer",
                msgspec.json.encode(store_spec).decode(),
                "--hold",
            ],
            stdout=subprocess.PIPE,
        )
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == b"open"

            async def refused() -> None:
                with pytest.raises(StoreHeld) as held:
                    await make_backend().claim()
                assert held.value.pid == child.pid, held.value.message

            self.run(refused())
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()

        async def claimed() -> None:
            deadline = time.monotonic() + RELEASE_WITHIN_S
            backend = make_backend()
            while True:
                try:
                    await backend.claim()
                    break
                except StoreHeld:
                    assert time.monotonic() < deadline, "a killed holder's claim stayed"
                    await asyncio.sleep(0.05)
            await backend.open()
            await backend.close()

        self.run(claimed())
