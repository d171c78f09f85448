"""seqctl's schedule commands: ``schedules ls|show|add|rm|pause|resume|trigger``.

As in ``commands``, results are ``AttrDict``s read through the Structs' field names
(``seqd.rpc.schedules.ScheduleInfo``); times are shown in local time.
"""

from __future__ import annotations

from seqd.cli.inputs import build_input
from seqd.cli.output import pretty_json, short_time

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from seqd.cli.output import Out
    from seqd.client import Client
    from seqd.rpc.schedules import ScheduleInfo


def ls(client: Client, args: argparse.Namespace, out: Out) -> int:
    page = client.schedules(args.task, args.after, args.limit)
    found, cursor = list(page.schedules), page.next_cursor
    while args.all and cursor:
        page = client.schedules(args.task, cursor, args.limit)
        found += page.schedules
        cursor = page.next_cursor
    out.result({"schedules": found, "next_cursor": cursor}, lambda _: _table(found, out))
    if cursor and not out.json_mode:
        task = f"--task {args.task} " if args.task else ""
        out.error(f"more schedules: seqctl schedules ls {task}--after {cursor}")
    return 0


def _table(found: list[ScheduleInfo], out: Out) -> None:
    if not found:
        out.line("no schedules")
        return
    headers = ["name", "task", "when", "state", "next fires", "last run"]
    out.table(headers, [_row(s) for s in found])


def _row(s: ScheduleInfo) -> tuple[object, ...]:
    return (s.name, s.task, when(s), s.state, _next(s), _last(s))


def when(s: Any) -> str:
    """``cron 0 3 * * * (Europe/Berlin)``, ``every 6h``, ``at 2030-01-01 09:00``."""
    if s.cron is not None:
        return f"cron {s.cron} ({s.zone})"
    if s.every is not None:
        return f"every {s.every}"
    return f"at {short_time(s.at)}"


def _next(s: ScheduleInfo) -> str:
    return ", ".join(short_time(t) for t in s.next_fires) or "-"


def _last(s: ScheduleInfo) -> str:
    run = s.last_run
    return f"{run.id} {run.status}" if run else "-"


def show(client: Client, args: argparse.Namespace, out: Out) -> int:
    out.result(client.schedule(args.name), lambda s: out.kv(_details(s)))
    return 0


def _details(s: ScheduleInfo) -> list[tuple[str, object]]:
    misfire = f"{s.misfire} (at most {s.catch_up})" if s.misfire == "catch_up" else s.misfire
    rows: list[tuple[str, object]] = [
        ("name", s.name),
        ("task", s.task),
        ("when", when(s)),
        ("state", s.state + (f": {s.problem}" if s.problem else "")),
        ("defined", "in the task's config.json" if s.origin == "config" else "over the API"),
        ("input", pretty_json(s.input)),
        ("overlap", s.overlap),
        ("misfire", misfire),
        ("jitter", f"up to {s.jitter_s:g}s" if s.jitter_s else "none"),
    ]
    for key, value in (("anchor", s.anchor), ("start", s.start), ("end", s.end)):
        if value:
            rows.append((key, value))
    rows += [
        ("next fires", "\n".join(short_time(t) for t in s.next_fires) or "-"),
        ("waiting", "\n".join(short_time(t) for t in s.queued) or "-"),
        ("last run", _last(s)),
        ("created", short_time(s.created_at)),
        ("updated", short_time(s.updated_at)),
    ]
    return rows


def add(client: Client, args: argparse.Namespace, out: Out) -> int:
    given = {
        "cron": args.cron, "every": args.every, "at": args.at, "tz": args.tz,
        "anchor": args.anchor, "start": args.start, "end": args.end, "jitter_s": args.jitter,
        "overlap": args.overlap, "misfire": args.misfire, "catch_up": args.catch_up,
    }  # fmt: skip
    definition = {key: value for key, value in given.items() if value is not None}
    info = client.create_schedule(
        args.name,
        args.task,
        input=build_input(args.input, args.items),
        paused=args.paused,
        **definition,
    )
    out.result(info, lambda s: out.line(f"{s.name}: {when(s)}; next: {_next(s)}"))
    return 0


def rm(client: Client, args: argparse.Namespace, out: Out) -> int:
    out.result(client.delete_schedule(args.name), lambda r: out.line(f"deleted {r.name}"))
    return 0


def pause(client: Client, args: argparse.Namespace, out: Out) -> int:
    out.result(client.pause_schedule(args.name), lambda s: out.line(f"paused {s.name}"))
    return 0


def resume(client: Client, args: argparse.Namespace, out: Out) -> int:
    info = client.resume_schedule(args.name)
    out.result(info, lambda s: out.line(f"resumed {s.name}; next: {_next(s)}"))
    return 0


def trigger(client: Client, args: argparse.Namespace, out: Out) -> int:
    from seqd.cli.runs import new_run

    return new_run(client, client.trigger_schedule(args.name), args.wait, out)
