"""``seqctl top``: the daemon at a glance, full screen — the queue, the workers, the runs
running with their durations, the latest failures and the rates of runs ending.

Runs come from events (a ``Feed`` on its own connection), started from one read of the
running runs and the latest failures; the queue and the workers from ``daemon.status``,
read once a second. ``--once`` prints one frame and exits (in a pipe too). Drawn with
``rich``, imported only here and in ``seqd.cli.watch``.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from seqd.cli.output import clock, duration, elapsed
from seqd.cli.watch import STYLES
from seqd.model.status import TERMINAL

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from seqd.cli.output import Out
    from seqd.client import Client
    from seqd.model.runs import Run
    from seqd.rpc.status import StatusResult

REDRAW_S = 0.5
STATUS_EVERY_S = 1.0
RATE_WINDOW_S = 60.0
FAILURES = 10
RUNNING_SHOWN = 200


class Top:
    """What ``top`` shows, kept up to date by ``take`` (run events) and ``status``."""

    def __init__(self, clock_s: Any = time.monotonic) -> None:
        self.clock_s = clock_s
        self.since = clock_s()
        self.status: StatusResult | None = None
        self.running: dict[str, Run] = {}
        self.failures: deque[Run] = deque(maxlen=FAILURES)
        self.ended: deque[tuple[float, str]] = deque()
        self.note = ""
        """Why it is not up to date, if it is not (shown in the header)."""

    def load(self, client: Client) -> None:
        """The state to start from: status, running runs, latest failures."""
        self.status = client.status()
        for run in client.list_runs(status="running", limit=RUNNING_SHOWN).runs:
            self.running[run.id] = run
        for run in reversed(client.list_runs(status="failed", limit=FAILURES).runs):
            self.failures.appendleft(run)

    def take(self, event: Any) -> None:
        if event.topic != "run":
            return
        run = event.run
        if run.status == "running":
            self.running[run.id] = run
        else:
            self.running.pop(run.id, None)
        if run.status in TERMINAL:
            self.ended.append((self.clock_s(), run.status))
        if run.status == "failed":
            self.failures.appendleft(run)

    def rates(self) -> tuple[float, dict[str, int]]:
        """(seconds covered, runs ended in them by status): the last minute, or since
        top started if that is shorter."""
        now = self.clock_s()
        while self.ended and self.ended[0][0] < now - RATE_WINDOW_S:
            self.ended.popleft()
        counts: dict[str, int] = {}
        for _, status in self.ended:
            counts[status] = counts.get(status, 0) + 1
        return min(RATE_WINDOW_S, max(now - self.since, 1e-9)), counts

    def __rich__(self) -> Any:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        header = Text()
        st = self.status
        if st is not None:
            w = st.workers
            header.append(f"seqd {st.version} on {st.node}", style="bold")
            header.append(f"  up {duration(st.uptime_s)}\n")
            header.append(f"workers {w.busy}/{w.max} busy  queued {w.queued}  ")
            header.append(f"flows {w.coordinating}  suspended {st.runs.get('suspended', 0)}\n")
        covered, counts = self.rates()
        per_min = 60.0 / covered
        header.append("ended/min ")
        for status in ("succeeded", "failed", "cancelled"):
            rate = counts.get(status, 0) * per_min
            header.append(f"{status} {rate:.1f}  ", style=STYLES[status] if rate else "")
        if self.note:
            header.append(f"\n{self.note}", style="bold red")

        running = Table(title=f"running ({len(self.running)})", expand=True, box=None,
                        title_justify="left", header_style="bold")  # fmt: skip
        for name in ("id", "task", "started", "for", "attempt"):
            running.add_column(name, no_wrap=True, overflow="ellipsis")
        ordered = sorted(self.running.values(), key=lambda r: r.started_at or "")
        for run in ordered[:RUNNING_SHOWN]:
            for_s = duration(elapsed(run.started_at, None))
            running.add_row(run.id, run.task, clock(run.started_at), for_s, str(run.attempt))

        failed = Table(title="latest failures", expand=True, box=None, title_justify="left",
                       header_style="bold")  # fmt: skip
        for name in ("ended", "id", "task", "error"):
            failed.add_column(name, no_wrap=name != "error", overflow="ellipsis")
        for run in self.failures:
            error = run.error
            why = f"{error.type}: {error.message}" if error else ""
            failed.add_row(clock(run.finished_at), run.id, run.task, Text(why, style="red"))
        return Group(header, Text(""), running, Text(""), failed)


def frame(view: Top, width: int) -> str:
    """One frame as text, ``width`` columns wide (no colours): ``--once``, and tests."""
    from rich.console import Console

    console = Console(width=width, color_system=None, force_terminal=False, record=True)
    with console.capture() as captured:
        console.print(view)
    return captured.get()


def top(client: Client, args: argparse.Namespace, out: Out) -> int:
    view = Top()
    view.load(client)
    if args.once:
        from seqd.cli.output import terminal_width

        out.stdout.write(frame(view, args.width or terminal_width(out.stdout) or 100))
        return 0
    from rich.console import Console
    from rich.live import Live

    from seqd.cli.feed import Feed

    lock = threading.Lock()
    feed = Feed(client.socket_path, ["run"], {}, view.take, lock)
    feed.start()
    console = Console(file=out.stdout)
    next_status = 0.0
    try:
        with Live(view, console=console, screen=True, auto_refresh=False) as live:
            while True:
                now = time.monotonic()
                if now >= next_status:
                    next_status = now + STATUS_EVERY_S
                    _refresh(client, view, lock, feed.error)
                with lock:
                    live.refresh()
                time.sleep(REDRAW_S)
    except KeyboardInterrupt:
        return 0


def _refresh(client: Client, view: Top, lock: threading.Lock, feed_error: str | None) -> None:
    from seqd.client import DaemonUnreachable

    try:
        status = client.status()
    except DaemonUnreachable as exc:
        with lock:
            view.note = f"daemon unreachable: {exc.reason}"
        return
    with lock:
        view.status = status
        view.note = f"events: {feed_error}" if feed_error else ""
