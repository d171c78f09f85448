"""``seqctl runs ls``: the runs people started, newest first, each with how many child
runs it has; ``--children`` lists child runs too (with their parent), as do ``--task``
and ``--parent``; ``--all`` lists every run on every page.

Its own module because a listing is its own kind of output — a table cut to the
terminal, a cursor for the next page, JSON as ``runs.list`` answers it — and the one
command that asks for the counts of children (``count_children``, one query per page).
"""

from __future__ import annotations

from seqd.cli.output import duration, elapsed, short_time

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from seqd.cli.output import Out
    from seqd.client import Client
    from seqd.model.runs import Run


def ls(client: Client, args: argparse.Namespace, out: Out) -> int:
    # Runs of a named task are listed at any depth: its runs may all be states of flows.
    nested = bool(args.all or args.children or args.parent or args.task)
    cursor: str | None = args.cursor
    runs: list[Run] = []
    children: dict[str, int] = {}
    while True:
        page = client.list_runs(
            task=args.task,
            status=args.status,
            parent_id=args.parent,
            schedule=args.schedule,
            limit=args.limit,
            cursor=cursor,
            roots_only=not nested,
            count_children=True,
        )
        runs.extend(page.runs)
        children.update(page.children)
        cursor = page.next_cursor
        if not (args.all and cursor and page.runs):
            break
    listed = {"runs": runs, "next_cursor": cursor, "children": children}  # a ListResult
    out.result(listed, lambda _: _print(runs, children, cursor, nested, args, out))
    return 0


def _print(
    runs: list[Run],
    children: dict[str, int],
    next_cursor: str | None,
    nested: bool,
    args: argparse.Namespace,
    out: Out,
) -> None:
    if not runs:
        out.line("no runs")
    else:
        headers = ["id", "task", "status", "attempt", "created", "duration", "children"]
        headers += ["parent", "error"] if nested else ["error"]
        rows = [
            (
                r.id,
                r.task,
                r.status,
                r.attempt,
                short_time(r.created_at),
                duration(elapsed(r.started_at, r.finished_at)),
                children.get(r.id) or "",
                *([r.parent_id or "-"] if nested else []),
                r.error.type if r.error else "",
            )
            for r in runs
        ]
        out.table(headers, rows)
    if next_cursor:
        out.error(f"more runs: seqctl runs ls {_filters(args)}--cursor {next_cursor}")


def _filters(args: argparse.Namespace) -> str:
    """The options of this listing, to repeat for its next page."""
    parts = []
    for flag, value in (("--task", args.task), ("--status", args.status),
                        ("--parent", args.parent), ("--schedule", args.schedule)):  # fmt: skip
        if value:
            parts.append(f"{flag} {value} ")
    if args.children:
        parts.append("--children ")
    if args.limit != 50:
        parts.append(f"--limit {args.limit} ")
    return "".join(parts)
