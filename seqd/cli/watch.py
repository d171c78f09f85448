"""``seqctl watch``: runs as they change, live.

In a pipe (or with --json), one line per change as events bring them: time, id, task,
status, duration, error — a log of the daemon's activity to grep or to feed a script.
On a terminal, a table of the latest runs, each row updated in place as its run moves
on, and running durations ticking (drawn with ``rich``, imported only here and in
``seqd.cli.top``, so that other commands start as fast as before). Ctrl-C ends it.
"""

from __future__ import annotations

import threading
import time

from seqd.cli.output import clock, compact_json, duration, elapsed

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from seqd.cli.output import Out
    from seqd.client import Client
    from seqd.model.runs import Run

REDRAW_S = 0.25
STYLES = {
    "queued": "yellow",
    "running": "cyan",
    "suspended": "magenta",
    "succeeded": "green",
    "failed": "bold red",
    "cancelled": "dim",
}


def watch(client: Client, args: argparse.Namespace, out: Out) -> int:
    filters: dict[str, Any] = {"task": args.task}
    if args.status:
        filters["status"] = [args.status]
    try:
        if out.json_mode or not out.stdout.isatty():
            return _lines(client, filters, out)
        return _table(client, filters, args.limit, out)
    except KeyboardInterrupt:
        return 0


def row(run: Run) -> list[str]:
    """What a line (or a table row) says of a run."""
    error = run.error
    return [
        run.id,
        run.task,
        run.status,
        duration(elapsed(run.started_at, run.finished_at)) if run.started_at else "",
        f"{error.type}: {error.message}" if error else "",
    ]


def _lines(client: Client, filters: dict[str, Any], out: Out) -> int:
    for event in client.subscribe(["run"], **filters):
        if event.topic != "run":
            continue
        if out.json_mode:
            out.line(compact_json(event.run))
        else:
            out.line("  ".join([clock(_changed_at(event.run)), *row(event.run)]).rstrip())
        out.stdout.flush()
    return 0


def _changed_at(run: Run) -> str:
    return run.finished_at or run.started_at or run.created_at


class Latest:
    """The latest runs to change, newest first, at most ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.runs: dict[str, Run] = {}

    def take(self, event: Any) -> None:
        if event.topic != "run":
            return
        self.runs.pop(event.run.id, None)
        self.runs[event.run.id] = event.run
        while len(self.runs) > self.limit:
            del self.runs[next(iter(self.runs))]

    def __rich__(self) -> Any:
        from rich.table import Table
        from rich.text import Text

        table = Table(expand=True, box=None, header_style="bold")
        for name in ("changed", "id", "task", "status", "duration", "error"):
            table.add_column(name, no_wrap=name != "error", overflow="ellipsis")
        for run in reversed(list(self.runs.values())):
            cells = row(run)
            status = Text(cells[2], style=STYLES.get(run.status, ""))
            table.add_row(clock(_changed_at(run)), cells[0], cells[1], status, *cells[3:])
        return table


def _table(client: Client, filters: dict[str, Any], limit: int | None, out: Out) -> int:
    from rich.console import Console
    from rich.live import Live

    from seqd.cli.feed import Feed

    console = Console(file=out.stdout)
    latest = Latest(limit or max(console.height - 3, 5))
    # The latest runs first (oldest of them drawn last), then whatever changes.
    page = client.list_runs(task=filters.get("task"), limit=latest.limit)
    for run in reversed(page.runs):
        if "status" not in filters or run.status in filters["status"]:
            latest.take(_Event(run))
    lock = threading.Lock()
    feed = Feed(client.socket_path, ["run"], filters, latest.take, lock)
    feed.start()
    with Live(console=console, auto_refresh=False, transient=False) as live:
        while True:
            with lock:
                live.update(_framed(latest, feed.error), refresh=True)
            time.sleep(REDRAW_S)


def _framed(latest: Latest, error: str | None) -> Any:
    from rich.console import Group
    from rich.text import Text

    note = Text(f"reconnecting: {error}", style="bold red") if error else Text("")
    return Group(latest.__rich__(), note)


class _Event:
    """A run read by ``runs.list``, as the run event it would have been."""

    topic = "run"

    def __init__(self, run: Run) -> None:
        self.run = run
