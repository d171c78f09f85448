"""Events for a view that redraws on its own clock (``seqctl watch`` on a terminal,
``seqctl top``): a thread that follows a subscription and hands each event to the view.

Its own module because both full-terminal views need the same thing: the events must
keep coming while the main thread draws, on a connection of their own (a ``Client`` is
for one thread), and survive a restart of the daemon by resuming from the last event's
cursor. ``error`` holds why it stopped, if it did.
"""

from __future__ import annotations

import threading
import time

from seqd.client import Client, DaemonUnreachable, SubscriptionCut

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

RESUME_PAUSE_S = 0.5


class Feed(threading.Thread):
    """Follows ``subscribe(topics, **filters)`` on ``socket``; calls ``take(event)`` for
    each event, under ``lock``."""

    def __init__(
        self,
        socket: str,
        topics: list[str],
        filters: dict[str, Any],
        take: Callable[[Any], None],
        lock: threading.Lock,
    ) -> None:
        super().__init__(name="seqctl-events", daemon=True)
        self.socket = socket
        self.topics = topics
        self.filters = filters
        self.take = take
        self.lock = lock
        self.error: str | None = None
        """Why events do not come now (the daemon is away); None while they do."""

    def run(self) -> None:
        since: str | None = None
        with Client(self.socket, timeout=10, typed=False) as client:
            while True:
                try:
                    for event in client.subscribe(self.topics, since=since, **self.filters):
                        since = event.cursor
                        self.error = None
                        with self.lock:
                            self.take(event)
                except SubscriptionCut as cut:
                    since = cut.cursor
                    if cut.reason != "slow":
                        self.error = f"the daemon ended the subscription ({cut.reason})"
                except DaemonUnreachable as exc:
                    self.error = exc.reason
                if self.error is not None:
                    client.close()
                    time.sleep(RESUME_PAUSE_S)
