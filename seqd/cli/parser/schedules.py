"""The command lines of ``seqctl schedules <verb>``."""

from __future__ import annotations

from seqd.cli.parser.builder import Builder, Subs, add_object_options, limit, seconds

ADD_EPILOG = """\
when (exactly one):
  --cron EXPR      five cron fields, or @hourly @daily @weekly @monthly @yearly,
                   read in --tz (default: the daemon's zone)
  --every D        an interval: 90s, 15m, 6h, 1h30m, 7d (from --anchor, default now)
  --at TIME        once, at an RFC 3339 time: 2030-01-01T09:00:00+01:00

policies:
  --overlap        while the previous run is unfinished: skip the fire (default),
                   queue it, or allow both to run
  --misfire        fires missed while the daemon was down: skip them, run_once
                   (default), or catch_up (the latest --catch-up N of them)

examples:
  seqctl schedules add nightly backup --cron '0 3 * * *' --tz Europe/Berlin
  seqctl schedules add poll fetch --every 90s --jitter 10 -i url=https://example.com
  seqctl schedules add launch release --at 2030-01-01T09:00:00Z
  seqctl schedules ls
  seqctl runs ls --schedule nightly            its history
"""


def add_schedules(b: Builder, nouns: Subs) -> None:
    verbs = b.verbs(nouns, "schedules", "runs started by time: at, every, cron")
    ls = b.sub(
        verbs,
        "ls",
        "list schedules with their next three fires and their last run",
        ("schedules", "ls"),
        aliases=("list",),
    )
    ls.add_argument("--task", metavar="T", help="only the schedules of this task")
    ls.add_argument("--limit", type=limit, default=100, metavar="N", help="per page (100)")
    ls.add_argument("--after", metavar="NAME", help="continue after this name")
    ls.add_argument("--all", action="store_true", help="every page, not just the first")

    show = b.sub(verbs, "show", "everything about one schedule", ("schedules", "show"))
    show.add_argument("name", metavar="NAME")

    add = b.sub(verbs, "add", "define a schedule", ("schedules", "add"), ADD_EPILOG)
    add.add_argument("name", metavar="NAME", help="the schedule's name")
    add.add_argument("task", metavar="TASK", help="the task it runs")
    when = add.add_mutually_exclusive_group(required=True)
    when.add_argument("--cron", metavar="EXPR", help="a cron expression or an alias")
    when.add_argument("--every", metavar="D", help="an interval such as 90s or 6h")
    when.add_argument("--at", metavar="TIME", help="once, at this RFC 3339 time")
    add_object_options(add, "-i", "--input", "input field", "input")
    add.add_argument("--tz", metavar="ZONE", help="IANA zone of --cron (Europe/Berlin)")
    add.add_argument("--anchor", metavar="TIME", help="--every lines up with this time")
    add.add_argument("--start", metavar="TIME", help="no fire before this time")
    add.add_argument("--end", metavar="TIME", help="no fire after this time")
    add.add_argument("--jitter", type=seconds, metavar="S", help="delay each fire up to S")
    add.add_argument("--overlap", choices=("skip", "queue", "allow"), help="(skip)")
    add.add_argument("--misfire", choices=("skip", "run_once", "catch_up"), help="(run_once)")
    add.add_argument("--catch-up", type=int, metavar="N", help="with catch_up: at most N (10)")
    add.add_argument("--paused", action="store_true", help="define it paused")

    for verb, text in (
        ("rm", "delete a schedule (its runs stay)"),
        ("pause", "stop a schedule firing"),
        ("resume", "fire again, from now on"),
    ):
        sub = b.sub(verbs, verb, text, ("schedules", verb), aliases=("delete",) * (verb == "rm"))
        sub.add_argument("name", metavar="NAME")

    trigger = b.sub(
        verbs,
        "trigger",
        "run a schedule's task now (prints the run id)",
        ("schedules", "trigger"),
        "The run is one of the schedule's (runs ls --schedule lists it), started outside\n"
        "its timing and its overlap policy. With --wait, waits and reports like\n"
        "`seqctl run`.\n",
    )
    trigger.add_argument("name", metavar="NAME")
    trigger.add_argument("--wait", action="store_true", help="wait for the run to end")
