"""``subscribe`` in both clients: events as an iterator, other calls in between,
leaving the loop, and the daemon ending the subscription."""

from __future__ import annotations

import asyncio
import contextlib
import threading

import pytest

from seqd.client import AsyncClient, Client, SubscriptionCut
from seqd.model.events import LiveEvent, RunEvent
from tests.events.support import TASKS


def submit_in_background(socket: str, count: int) -> tuple[threading.Thread, list[str]]:
    ids: list[str] = []

    def go() -> None:
        with Client(socket) as other:
            for i in range(count):
                ids.append(other.submit("quick", {"n": i}, wait=True).id)

    thread = threading.Thread(target=go)
    return thread, ids


@pytest.mark.parametrize("typed", [True, False])
def test_sync_client_events_with_calls_in_between(make_daemon, typed: bool) -> None:
    d = make_daemon(tasks=[TASKS])
    thread, ids = submit_in_background(d.socket, 5)
    seen: list[tuple[str, str]] = []
    with Client(d.socket, typed=typed) as client:
        for event in client.subscribe(["run"], task="quick"):
            if event.topic == "live":
                thread.start()
                continue
            if typed:
                assert isinstance(event, RunEvent)
            seen.append((event.run.id, event.run.status))
            client.status()  # a call in flight while events keep coming: none is lost
            if len(seen) == 15:
                break
        thread.join()
        # Leaving the loop ended the subscription on the daemon; the connection goes on.
        assert client.status().subscriptions == 0
        assert not client.notifications
    assert seen == [(run, s) for run in ids for s in ("queued", "running", "succeeded")]


def test_async_client_events_beside_other_calls(make_daemon) -> None:
    d = make_daemon(tasks=[TASKS])

    async def main() -> list[tuple[str, str]]:
        seen: list[tuple[str, str]] = []
        async with AsyncClient(d.socket) as client:
            live = asyncio.Event()

            async def busy() -> list[str]:
                await live.wait()
                runs = [client.submit("quick", {"n": i}, wait=True) for i in range(4)]
                pings = [client.ping() for _ in range(50)]  # pipelined on the same connection
                done = await asyncio.gather(*runs, *pings)
                return [run.id for run in done[:4]]

            submitting = asyncio.create_task(busy())
            # aclosing: leaving the loop unsubscribes at once (not when collected).
            async with contextlib.aclosing(client.subscribe(["run"], task="quick")) as events:
                async for event in events:
                    if isinstance(event, LiveEvent):
                        live.set()
                        continue
                    assert isinstance(event, RunEvent)
                    seen.append((event.run.id, event.run.status))
                    if len(seen) == 12:
                        break
            ids = await submitting
            assert (await client.status()).subscriptions == 0
        per_run = {run: [s for r, s in seen if r == run] for run in ids}
        assert per_run == {run: ["queued", "running", "succeeded"] for run in ids}
        return seen

    asyncio.run(main())


def test_a_subscription_the_daemon_ends_raises_with_the_cursor(make_daemon) -> None:
    d = make_daemon(tasks=[TASKS])
    last = None
    with Client(d.socket) as client, pytest.raises(SubscriptionCut) as cut:
        for event in client.subscribe(["run"], task="quick"):
            if event.topic == "live":
                with Client(d.socket) as other:
                    other.submit("quick", wait=True)
            elif event.run.status == "succeeded":
                last = event.cursor
                d.stop()
    assert cut.value.reason == "shutdown" and cut.value.cursor == last
