"""The command lines of ``seqctl run TASK`` and ``seqctl runs <verb>``, with their help."""

from __future__ import annotations

from seqd.cli.parser.builder import (
    EXIT_STATUSES,
    Builder,
    Subs,
    add_object_options,
    completes,
    count,
    duration,
    json_value,
    limit,
    run_ref,
    seconds,
)
from seqd.model.status import RUN_STATUSES, TERMINAL

RUN_EPILOG = f"""\
input:
  -i KEY=VALUE     sets KEY to the string VALUE          -i name=Ada
  -i KEY:=JSON     sets KEY to a JSON value              -i seconds:=5  -i tags:='["a","b"]'
  -i KEY=@FILE     sets KEY to the text of a file        -i csv=@rows.csv
  -i KEY:=@FILE    sets KEY to a JSON file's value       -i rows:=@rows.json
                   (a string that starts with @: -i KEY:='"@text"')
  --input JSON     the whole input object, inline        --input '{{"name": "Ada"}}'
  --input @FILE    ... read from a JSON file             --input @input.json
  --input -        ... read from stdin                   echo '{{}}' | seqctl run t --input -
  --input is read first; each -i then sets one key on top of it.

waiting:
  Without --detach, seqctl waits for the run to end, prints its output (a string as
  is, anything else as JSON) and exits 0 if it succeeded, 1 otherwise (the error —
  a traceback, or the last lines a command wrote to stderr — goes to stderr). On a
  terminal a spinner shows the run's status and time meanwhile. --timeout S stops
  waiting after S seconds: the run keeps going, seqctl says how to wait for it again
  and exits 1. Ctrl-C stops waiting too (exit 130) but never cancels the run.

many runs:
  --each FILE runs the task once per line of FILE (JSON Lines: one input object per
  line; - reads stdin), submitted in batches of {{each_batch}} (each batch all or none).
  Each line's -i/--input is the line itself, on top of --input and -i. Prints the
  run ids; with --wait, waits for all with a progress bar on a terminal and exits 1
  if any failed. With --idempotency-key K, line N gets the key K:N, so that running
  the same command again submits only the lines that were not accepted yet.

examples:
  seqctl run hello -i name=Ada
  seqctl run slow -i seconds:=30 --detach          prints the run id only
  seqctl run disk-usage --follow                   stream log lines while it runs
  seqctl --json run hello --input @in.json         the whole Run as JSON
  seqctl run hello --each names.jsonl --wait       one run per line, then a summary

{EXIT_STATUSES}"""


RUN_REF = "the run: its id, a unique prefix of it, last or last:TASK"
EACH_BATCH = 1000
"""Lines of ``run --each`` per ``runs.submit_many``."""


def add_run(b: Builder, nouns: Subs) -> None:
    epilog = RUN_EPILOG.replace("{each_batch}", f"{EACH_BATCH:,}")
    run = b.sub(nouns, "run", "run a task and wait for its result", ("runs", "run"), epilog)
    completes(
        run.add_argument("task", metavar="TASK", help="the task's name (see `seqctl tasks ls`)"),
        "tasks",
    )
    add_object_options(run, "-i", "--input", "input field", "input")
    run.add_argument(
        "-d", "--detach", action="store_true", help="print the run id and return at once"
    )
    run.add_argument(
        "-f", "--follow", action="store_true", help="stream log lines (a flow's too) to stderr"
    )
    run.add_argument("--timeout", type=seconds, metavar="S", help="stop waiting after S seconds")
    run.add_argument("--idempotency-key", metavar="K", help="submit at most once per key")
    run.add_argument("--priority", type=int, default=0, metavar="N", help="higher runs first")
    run.add_argument(
        "--traceparent",
        metavar="TP",
        help='join the caller\'s W3C trace (in a shell task: --traceparent "$TRACEPARENT")',
    )
    run.add_argument(
        "--each", metavar="FILE|-", help="one run per line of a JSON Lines file (- is stdin)"
    )
    run.add_argument(
        "-w", "--wait", action="store_true", help="with --each: wait for every run to end"
    )


def add_runs(b: Builder, nouns: Subs) -> None:
    verbs = b.verbs(nouns, "runs", "list, inspect, follow, wait for, cancel and prune runs")
    ls = b.sub(
        verbs,
        "ls",
        "list runs, newest first",
        ("listing", "ls"),
        "Lists the runs you (or anyone) started — not the states of flows, which are\n"
        "child runs: CHILDREN counts them. --children lists them too, with their\n"
        "PARENT, and so do --task and --parent; --all lists every run, every page.\n\n"
        "examples:\n  seqctl runs ls --task hello --status failed\n"
        "  seqctl runs ls --parent last          the states of your last flow\n"
        "  seqctl runs ls --all --json\n",
        aliases=("list",),
    )
    completes(ls.add_argument("--task", metavar="T", help="only runs of this task"), "tasks")
    ls.add_argument("--status", choices=RUN_STATUSES, help="only runs in this status")
    completes(
        ls.add_argument(
            "--parent", metavar="ID", type=run_ref, help="only the child runs of this run"
        ),
        "runs",
    )
    completes(
        ls.add_argument("--schedule", metavar="NAME", help="only the runs of this schedule"),
        "schedules",
    )
    ls.add_argument("--limit", type=limit, default=50, metavar="N", help="runs per page (50)")
    ls.add_argument("--cursor", metavar="C", help="continue from a previous page")
    ls.add_argument(
        "-c", "--children", action="store_true", help="child runs too (the states of flows)"
    )
    ls.add_argument(
        "-a", "--all", action="store_true", help="every run: child runs too, every page"
    )

    show = b.sub(
        verbs,
        "show",
        "everything about one run, with its error",
        ("runs", "show"),
        "With --tree, a flow is shown as the tree of its child runs (one per state\n"
        "execution, nested flows included) with status and timing.\n\n"
        "examples:\n  seqctl runs show RUN_ID\n  seqctl runs show RUN_ID --tree\n",
    )
    completes(show.add_argument("id", metavar="ID", type=run_ref, help=RUN_REF), "runs")
    show.add_argument("--tree", action="store_true", help="show the run and all its descendants")

    steps = b.sub(
        verbs,
        "steps",
        "print a run's journal: a flow's transitions and state outcomes",
        ("journal", "steps"),
        "Each entry: seq, time, kind (transition, state, attempt, item, timer,\n"
        "compensate), the state, its status and what happened.\n\n"
        "examples:\n  seqctl runs steps RUN_ID\n  seqctl runs steps RUN_ID --json\n",
    )
    completes(steps.add_argument("id", metavar="ID", type=run_ref, help=RUN_REF), "runs")
    steps.add_argument("--after", type=int, default=0, metavar="N", help="start after seq N")

    logs = b.sub(
        verbs,
        "logs",
        "print a run's log lines (a flow's: those of all its states)",
        ("runs", "logs"),
        "Lines read 'HH:MM:SS.mmm STREAM TEXT' (local time); a flow's states' lines have\n"
        "'[task]' before the text. --json gives one JSON object per line. With --follow,\n"
        "new lines show as they are stored, until the run ends.\n\n"
        "examples:\n  seqctl runs logs RUN_ID\n"
        "  seqctl runs logs RUN_ID --follow      until the run ends\n"
        "  seqctl runs logs RUN_ID -n 20 -f      the last 20 lines, then follow\n"
        "  seqctl runs logs RUN_ID --since 10m   the lines of the last 10 minutes\n",
    )
    completes(logs.add_argument("id", metavar="ID", type=run_ref, help=RUN_REF), "runs")
    logs.add_argument("-f", "--follow", action="store_true", help="keep reading until it ends")
    logs.add_argument("--after", type=int, default=0, metavar="N", help="start after line seq N")
    logs.add_argument(
        "-n", "--tail", type=count, metavar="N", help="only the last N lines (then follow)"
    )
    logs.add_argument(
        "--since", type=duration, metavar="D", help="only lines of the last D (90s, 10m, 2h)"
    )

    signal = b.sub(
        verbs,
        "signal",
        "send a signal to a run (ctx.wait_signal returns its data)",
        ("runs", "signal"),
        "The signal is stored in the run's journal first; a run suspended waiting for\n"
        "it wakes up.\n\nexamples:\n  seqctl runs signal RUN_ID approved\n"
        '  seqctl runs signal RUN_ID approved --data \'{"by": "ada"}\'\n',
    )
    completes(signal.add_argument("id", metavar="ID", type=run_ref, help=RUN_REF), "runs")
    signal.add_argument("name", metavar="NAME")
    signal.add_argument(
        "--data", type=json_value, default=None, metavar="JSON", help="the payload (JSON)"
    )

    retry = b.sub(
        verbs,
        "retry",
        "start a new run of a failed or cancelled run (same task and input)",
        ("runs", "retry"),
        "Prints the new run's id; with --wait, waits and reports like `seqctl run`.\n",
    )
    completes(retry.add_argument("id", metavar="ID", type=run_ref, help=RUN_REF), "runs")
    retry.add_argument("--wait", action="store_true", help="wait for the new run to end")

    trace = b.sub(
        verbs,
        "trace",
        "draw a run's trace: its tree of runs and their steps, on a time line",
        ("waterfall", "trace"),
        "One line per span — a run, or a step, tool call, child run start, sleep,\n"
        "signal or flow state journaled for it — indented under its parent, with its\n"
        "duration and a bar on the trace's time line. ✗ marks a failed span (its error\n"
        "is listed below), ░ one still open. The whole tree the run belongs to is\n"
        "drawn, from its root. --json gives the spans (OpenTelemetry-style ids).\n\n"
        "examples:\n  seqctl runs trace RUN_ID\n  seqctl runs trace RUN_ID --json\n",
    )
    trace.add_argument("id", metavar="ID")

    cancel = b.sub(verbs, "cancel", "cancel a queued or running run", ("runs", "cancel"))
    completes(cancel.add_argument("id", metavar="ID", type=run_ref, help=RUN_REF), "runs")
    cancel.add_argument("--reason", metavar="R", help="recorded with the cancellation")

    prune = b.sub(
        verbs,
        "prune",
        "remove finished runs older than a duration, with their logs and journals",
        ("prune", "prune"),
        "A run another run started (a flow's states, ctx.run_task) goes with the run\n"
        "that started it, once every run of that tree has finished; --status and\n"
        "--task are that first run's. The daemon also prunes by itself, as its\n"
        "[retention] config says (default: 30 days). Admins only.\n\n"
        "examples:\n  seqctl runs prune --older-than 7d --dry-run\n"
        "  seqctl runs prune --older-than 30d --status failed --status cancelled\n"
        "  seqctl runs prune --older-than 12h --task nightly-report\n",
    )
    prune.add_argument(
        "--older-than",
        required=True,
        metavar="AGE",
        help="finished more than AGE ago: 90s, 12h, 7d, 1h30m",
    )
    prune.add_argument(
        "--status",
        action="append",
        choices=[s for s in RUN_STATUSES if s in TERMINAL],
        help="only runs that ended so (repeatable; default all three)",
    )
    prune.add_argument("--task", metavar="T", help="only runs of this task")
    prune.add_argument("--dry-run", action="store_true", help="count, remove nothing")

    wait = b.sub(
        verbs,
        "wait",
        "wait for a run to end and print its output",
        ("runs", "wait"),
        "Exit status as for `seqctl run`: 0 succeeded, 1 failed, cancelled or still\n"
        "unfinished after --timeout.\n",
    )
    completes(wait.add_argument("id", metavar="ID", type=run_ref, help=RUN_REF), "runs")
    wait.add_argument("--timeout", type=seconds, metavar="S", help="stop waiting after S seconds")
