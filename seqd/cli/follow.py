"""A run's log lines as events bring them: ``seqctl runs logs ID [-f] [-n N] [--since D]``
and ``seqctl run TASK -f``.

One subscription (``log`` and ``run`` events) does it all: for a root run it covers the
whole tree, so a flow's states show up with their task's name; first the lines asked
for (all, each run's last ``tail``, or those since a time), then — following — new
lines as they are stored, until the run ends (its ``run`` event: its lines, and those
of every run under it, come before it). With ``tail``, the lines replayed are put in
time order across the tree and only the last ``tail`` are shown. If the daemon goes
away (a restart), following resumes from the last event's cursor: nothing is shown
twice or skipped.
"""

from __future__ import annotations

import heapq
import time

from seqd.client import DaemonUnreachable, SubscriptionCut
from seqd.model.status import TERMINAL
from seqd.model.timeutil import format_ts

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from seqd.cli.output import Out
    from seqd.client import Client
    from seqd.model.runs import LogLine, Run

    Emit = Callable[[LogLine, Any], None]
    """Show one line; the second argument is its ``log`` event (``run_id``, ``task``)."""

RECONNECT_S = 30.0
"""How long following keeps trying to reach a daemon that went away."""
RECONNECT_PAUSE_S = 0.5


def follow(
    client: Client,
    run_id: str,
    emit: Emit,
    out: Out,
    *,
    keep_going: bool = True,
    tail: int | None = None,
    since_s: float | None = None,
    deadline: float | None = None,
) -> Run | None:
    """Show the run's (its tree's) lines as selected, then with ``keep_going`` new ones
    until the run ends or ``deadline`` (``time.monotonic``) passes. Returns the run as
    its last event showed it (None if no event showed it)."""
    root = client.get_run(run_id)
    scope = "root_id" if (root.root_id or root.id) == root.id else "run_id"
    params: dict[str, Any] = {scope: run_id}
    if tail is not None:
        params["tail"] = tail
    if since_s is not None:
        params["from_time"] = format_ts(time.time() - since_s)
    if tail is None and since_s is None:
        params["since"] = "0"
    shown = _Shown(run_id, emit, tail)
    give_up: float | None = None
    while True:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            for event in client.subscribe(["log", "run"], timeout_s=remaining, **params):
                give_up = None
                params = {scope: run_id, "since": event.cursor}
                if shown.take(event) and (shown.ended or not keep_going):
                    return shown.run
            return shown.run  # the deadline passed
        except SubscriptionCut as cut:
            params = {scope: run_id, "since": cut.cursor}
            if cut.reason == "slow":
                continue  # this terminal was slow for a moment: go on from there at once
            give_up = _pause(out, f"the daemon ended the subscription ({cut.reason})", give_up, cut)
        except DaemonUnreachable as exc:
            give_up = _pause(out, f"lost the daemon ({exc.reason})", give_up, exc)


def _pause(out: Out, why: str, give_up: float | None, exc: Exception) -> float:
    """Wait a moment before resuming; raise ``exc`` once resuming was tried for long."""
    now = time.monotonic()
    if give_up is None:
        give_up = now + RECONNECT_S
        out.error(f"{why}; resuming for up to {RECONNECT_S:g}s")
    elif now >= give_up:
        raise exc
    time.sleep(RECONNECT_PAUSE_S)
    return give_up


class _Shown:
    """What following has shown and seen: the lines go out as they come, except the
    replayed ones when only the last ``tail`` are wanted (kept, the newest ``tail``, and
    shown in time order once the replay is done)."""

    def __init__(self, run_id: str, emit: Emit, tail: int | None) -> None:
        self.run_id = run_id
        self.emit = emit
        self.tail = tail
        self.replaying = True
        self.kept: list[tuple[str, int, LogLine, Any]] = []
        self.order = 0
        self.run: Run | None = None
        self.ended = False

    def take(self, event: Any) -> bool:
        """Handle one event; True when the replay is done (the ``live`` event) or, past
        it, when the run followed has ended."""
        topic = event.topic
        if topic == "log":
            for line in event.lines:
                self._line(line, event)
        elif topic == "run" and event.run.id == self.run_id:
            self.run = event.run
            self.ended = event.run.status in TERMINAL
            return self.ended and not self.replaying
        elif topic == "live":
            self.replaying = False
            for _, _, line, source in sorted(self.kept, key=lambda kept: kept[:2]):
                self.emit(line, source)
            self.kept.clear()
            return True
        return False

    def _line(self, line: LogLine, source: Any) -> None:
        if self.tail is None or not self.replaying:
            self.emit(line, source)
            return
        self.order += 1
        entry = (line.ts, self.order, line, source)
        if len(self.kept) < self.tail:
            heapq.heappush(self.kept, entry)
        elif self.tail and entry[:2] > self.kept[0][:2]:
            heapq.heapreplace(self.kept, entry)
