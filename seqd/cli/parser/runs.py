"""The command lines of ``seqctl run TASK`` and ``seqctl runs <verb>``, with their help."""

from __future__ import annotations

from seqd.cli.parser.builder import (
    EXIT_STATUSES,
    Builder,
    Subs,
    add_object_options,
    count,
    duration,
    json_value,
    limit,
    seconds,
)
from seqd.model.status import RUN_STATUSES

RUN_EPILOG = f"""\
input:
  -i KEY=VALUE     sets KEY to the string VALUE          -i name=Ada
  -i KEY:=JSON     sets KEY to a JSON value              -i seconds:=5  -i tags:='["a","b"]'
  --input JSON     the whole input object, inline        --input '{{"name": "Ada"}}'
  --input @FILE    ... read from a JSON file             --input @input.json
  --input -        ... read from stdin                   echo '{{}}' | seqctl run t --input -
  --input is read first; each -i then sets one key on top of it.

waiting:
  Without --detach, seqctl waits for the run to end, prints its output (a string as
  is, anything else as JSON) and exits 0 if it succeeded, 1 otherwise (the error and
  any traceback go to stderr). --timeout S stops waiting after S seconds: the run
  keeps going, seqctl says how to wait for it again and exits 1. Ctrl-C stops
  waiting too (exit 130) but never cancels the run.

examples:
  seqctl run hello -i name=Ada
  seqctl run slow -i seconds:=30 --detach          prints the run id only
  seqctl run disk-usage --follow                   stream log lines while it runs
  seqctl --json run hello --input @in.json         the whole Run as JSON

{EXIT_STATUSES}"""


def add_run(b: Builder, nouns: Subs) -> None:
    run = b.sub(nouns, "run", "run a task and wait for its result", ("runs", "run"), RUN_EPILOG)
    run.add_argument("task", metavar="TASK", help="the task's name (see `seqctl tasks ls`)")
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


def add_runs(b: Builder, nouns: Subs) -> None:
    verbs = b.verbs(nouns, "runs", "list, inspect, follow, wait for and cancel runs")
    ls = b.sub(
        verbs,
        "ls",
        "list runs, newest first",
        ("runs", "ls"),
        "examples:\n  seqctl runs ls --task hello --status failed\n  seqctl runs ls --all --json\n",
        aliases=("list",),
    )
    ls.add_argument("--task", metavar="T", help="only runs of this task")
    ls.add_argument("--status", choices=RUN_STATUSES, help="only runs in this status")
    ls.add_argument("--parent", metavar="ID", help="only the child runs of this run")
    ls.add_argument("--limit", type=limit, default=50, metavar="N", help="runs per page (50)")
    ls.add_argument("--cursor", metavar="C", help="continue from a previous page")
    ls.add_argument("--all", action="store_true", help="every page, not just the first")

    show = b.sub(
        verbs,
        "show",
        "everything about one run, with its error",
        ("runs", "show"),
        "With --tree, a flow is shown as the tree of its child runs (one per state\n"
        "execution, nested flows included) with status and timing.\n\n"
        "examples:\n  seqctl runs show RUN_ID\n  seqctl runs show RUN_ID --tree\n",
    )
    show.add_argument("id", metavar="ID")
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
    steps.add_argument("id", metavar="ID")
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
    logs.add_argument("id", metavar="ID")
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
    signal.add_argument("id", metavar="ID")
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
    retry.add_argument("id", metavar="ID")
    retry.add_argument("--wait", action="store_true", help="wait for the new run to end")

    cancel = b.sub(verbs, "cancel", "cancel a queued or running run", ("runs", "cancel"))
    cancel.add_argument("id", metavar="ID")
    cancel.add_argument("--reason", metavar="R", help="recorded with the cancellation")

    wait = b.sub(
        verbs,
        "wait",
        "wait for a run to end and print its output",
        ("runs", "wait"),
        "Exit status as for `seqctl run`: 0 succeeded, 1 failed, cancelled or still\n"
        "unfinished after --timeout.\n",
    )
    wait.add_argument("id", metavar="ID")
    wait.add_argument("--timeout", type=seconds, metavar="S", help="stop waiting after S seconds")
