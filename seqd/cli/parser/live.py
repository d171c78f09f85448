"""The command lines of the live views: ``seqctl watch`` and ``seqctl top``."""

from __future__ import annotations

from seqd.cli.parser.builder import Builder, Subs, limit
from seqd.model.status import RUN_STATUSES


def add_watch(b: Builder, nouns: Subs) -> None:
    watch = b.sub(
        nouns,
        "watch",
        "show runs as they change, live",
        ("watch", "watch"),
        "On a terminal: a table of the latest runs, updated in place. In a pipe (or\n"
        "with --json): one line (JSON object) per change, as it happens. Ctrl-C ends it.\n\n"
        "examples:\n  seqctl watch\n  seqctl watch --task backup --status failed\n"
        "  seqctl watch | grep failed\n",
    )
    watch.add_argument("--task", metavar="T", help="only runs of this task")
    watch.add_argument("--status", choices=RUN_STATUSES, help="only changes to this status")
    watch.add_argument(
        "--limit", type=limit, metavar="N", help="rows of the table (default: fit the terminal)"
    )


def add_top(b: Builder, nouns: Subs) -> None:
    top = b.sub(
        nouns,
        "top",
        "the daemon at a glance, full screen: queue, workers, running runs, failures",
        ("top", "top"),
        "Redrawn as runs change (events) and each second. Ctrl-C ends it.\n"
        "--once prints one frame and exits (in a pipe too).\n",
    )
    top.add_argument("--once", action="store_true", help="print one frame and exit")
    top.add_argument("--width", type=limit, metavar="N", help="with --once: columns of the frame")
