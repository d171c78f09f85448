"""seqctl's command line: nouns and verbs, help texts and examples.

``--socket`` and ``--json`` are accepted before the noun and after the verb alike: the
top-level parser holds their defaults, the sub-parsers add them with SUPPRESS so that
a value given early is not reset by a sub-parser that did not see it. Each command's
handler is named by ``(module, function)`` and imported only when that command runs,
and only the named noun's sub-parsers are built (see :func:`build_parser`).
Plain ``seqctl status`` and ``seqctl ping`` lines are read without argparse, by
``quick.py``; their help and errors still come from here.
"""

from __future__ import annotations

import argparse
import os
import sys

from seqd import __version__
from seqd.cli.quick import PING, STATUS, Handler
from seqd.model.status import RUN_STATUSES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import TypeAlias

EXIT_STATUSES = """\
exit status:
  0  ok
  1  the run failed, was cancelled or was still unfinished when --timeout ran out
     (tasks validate: the task has problems)
  2  usage error (bad option, bad -i item, unreadable --input)
  3  the daemon is unreachable (nothing listens on the socket, connection lost)
  4  the daemon refused the request (not found, invalid params, permission, rate limit)
"""

MAIN_EPILOG = f"""\
examples:
  seqctl status                      is the daemon up, and how busy is it?
  seqctl tasks ls                    what can I run?
  seqctl run hello -i name=Ada       run a task, wait, print its output
  seqctl run slow -i seconds:=5 -f   ... and stream its log lines meanwhile
  seqctl runs ls --status failed     what went wrong lately?
  seqctl runs show RUN_ID            everything about one run

The socket is --socket, else $SEQD_SOCKET, else your own daemon's socket
(<runtime dir>/seqd/seqd.sock), else the system daemon's (/run/seqd/seqd.sock).
Every command takes --json for machine-readable output.

{EXIT_STATUSES}"""

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


Subs: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps epilogs as written, and measures the terminal itself: argparse would
    import ``shutil`` for that (~2 ms), even when no help is printed."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=_help_width())


def _help_width() -> int:
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit():
        return max(int(columns) - 2, 40)
    try:
        return max(os.get_terminal_size(sys.stdout.fileno()).columns - 2, 40)
    except (OSError, ValueError):
        return 78


class _Builder:
    """Adds sub-parsers sharing one ``--socket``/``--json`` parent."""

    def __init__(self) -> None:
        self.common = argparse.ArgumentParser(add_help=False, formatter_class=_Formatter)
        _common(self.common, argparse.SUPPRESS)

    def sub(
        self,
        subs: Subs,
        name: str,
        help: str,
        handler: Handler | None,
        epilog: str | None = None,
        aliases: tuple[str, ...] = (),
    ) -> argparse.ArgumentParser:
        parser = subs.add_parser(
            name,
            help=help,
            description=help[0].upper() + help[1:] + ".",
            epilog=epilog,
            aliases=list(aliases),
            parents=[self.common],
            formatter_class=_Formatter,
        )
        if handler is not None:
            parser.set_defaults(handler=handler)
        return parser

    def verbs(self, subs: Subs, noun: str, help: str) -> Subs:
        parser = self.sub(subs, noun, help, None)
        return parser.add_subparsers(
            title="commands",
            metavar="<command>",
            dest=f"{noun}_command",
            required=True,
            prog=f"seqctl {noun}",
        )


def _common(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "--socket",
        metavar="PATH",
        default=default,
        help="the daemon's socket (default: $SEQD_SOCKET, then the usual places)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        default=default if default is argparse.SUPPRESS else False,
        help="print machine-readable JSON instead of tables",
    )


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole command line; given ``argv``, only the part its noun needs (building
    every sub-parser costs several milliseconds of start-up)."""
    parser = argparse.ArgumentParser(
        prog="seqctl",
        description="Talk to the seqd daemon: run tasks, inspect runs, manage the daemon.",
        epilog=MAIN_EPILOG,
        formatter_class=_Formatter,
    )
    _common(parser, None)
    parser.add_argument("--version", action="version", version=f"seqctl {__version__}")
    nouns = parser.add_subparsers(
        title="commands", metavar="<command>", dest="command", required=True, prog="seqctl"
    )
    wanted = _noun(argv)
    b = _Builder()
    for name, add in _NOUNS.items():
        if wanted is None or wanted == name:
            add(b, nouns)
    return parser


def _noun(argv: Sequence[str] | None) -> str | None:
    """The command named in ``argv`` if it is a known one, else None (build all)."""
    args = iter(argv or ())
    for arg in args:
        if arg == "--socket":
            next(args, None)
        elif not arg.startswith("-"):
            return arg if arg in _NOUNS else None
    return None


def _add_status(b: _Builder, nouns: Subs) -> None:
    b.sub(nouns, "status", "show the daemon's version, uptime, storage, runs and workers", STATUS)


def _add_ping(b: _Builder, nouns: Subs) -> None:
    b.sub(nouns, "ping", "check that the daemon answers", PING)


def _add_run(b: _Builder, nouns: Subs) -> None:
    run = b.sub(nouns, "run", "run a task and wait for its result", ("runs", "run"), RUN_EPILOG)
    run.add_argument("task", metavar="TASK", help="the task's name (see `seqctl tasks ls`)")
    run.add_argument(
        "-i",
        dest="items",
        action="append",
        default=[],
        metavar="KEY=VALUE|KEY:=JSON",
        help="set one input field: a string with '=', a JSON value with ':=' (repeatable)",
    )
    run.add_argument(
        "--input", metavar="JSON|@FILE|-", help="the input object: inline, from a file, stdin"
    )
    run.add_argument(
        "-d", "--detach", action="store_true", help="print the run id and return at once"
    )
    run.add_argument("-f", "--follow", action="store_true", help="stream log lines to stderr")
    run.add_argument("--timeout", type=_seconds, metavar="S", help="stop waiting after S seconds")
    run.add_argument("--idempotency-key", metavar="K", help="submit at most once per key")
    run.add_argument("--priority", type=int, default=0, metavar="N", help="higher runs first")


def _add_runs(b: _Builder, nouns: Subs) -> None:
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
    ls.add_argument("--limit", type=_limit, default=50, metavar="N", help="runs per page (50)")
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
        "print a run's log lines",
        ("runs", "logs"),
        "Lines read 'HH:MM:SS.mmm STREAM TEXT' (local time); --json gives one JSON\n"
        "object per line.\n\nexamples:\n  seqctl runs logs RUN_ID\n"
        "  seqctl runs logs RUN_ID --follow      until the run ends\n",
    )
    logs.add_argument("id", metavar="ID")
    logs.add_argument("-f", "--follow", action="store_true", help="keep reading until it ends")
    logs.add_argument("--after", type=int, default=0, metavar="N", help="start after line seq N")

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
        "--data", type=_json_value, default=None, metavar="JSON", help="the payload (JSON)"
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
    wait.add_argument("--timeout", type=_seconds, metavar="S", help="stop waiting after S seconds")


def _add_tasks(b: _Builder, nouns: Subs) -> None:
    verbs = b.verbs(nouns, "tasks", "list, show and validate tasks")
    ls = b.sub(
        verbs, "ls", "list tasks (invalid ones too)", ("commands", "tasks_ls"), aliases=("list",)
    )
    ls.add_argument("--tag", metavar="T", help="only tasks with this tag")
    show = b.sub(verbs, "show", "one task's definition and input schema", ("commands", "task_show"))
    show.add_argument("name", metavar="NAME")
    validate = b.sub(
        verbs,
        "validate",
        "check one task's definition (exit 1 when it has problems)",
        ("commands", "task_validate"),
    )
    validate.add_argument("name", metavar="NAME")


TOOLS_CALL_EPILOG = f"""\
params:
  -p KEY=VALUE     sets KEY to the string VALUE          -p url=http://localhost:8080/
  -p KEY:=JSON     sets KEY to a JSON value              -p timeout_s:=5  -p argv:='["ls","-l"]'
  --params JSON    the whole params object, inline       --params '{{"key": "k"}}'
  --params @FILE   ... read from a JSON file             --params @params.json
  --params -       ... read from stdin
  --params is read first; each -p then sets one key on top of it.

The result is printed as JSON (a string as is); --json prints the whole answer
({{"tool", "result", "duration_s"}}). A refused or failed call exits 4 with the error
(validation names the field; rate_limited says when to retry; tool_failed says why).

examples:
  seqctl tools call kv.set -p key=greeting -p value=hello
  seqctl tools call kv.get -p key=greeting
  seqctl tools call file.write -p path=notes/today.txt -p content='buy milk'
  seqctl tools call file.list -p path=notes
  seqctl tools call http.request -p url=http://127.0.0.1:8000/health
  seqctl tools call shell.exec -p argv:='["uname","-a"]'        (admins only)
  seqctl tools call task.run -p task=hello -p input:='{{"name":"Ada"}}'

{EXIT_STATUSES}"""


def _add_tools(b: _Builder, nouns: Subs) -> None:
    verbs = b.verbs(nouns, "tools", "list, show and call tools")
    b.sub(
        verbs,
        "ls",
        "list tools: name, source, validity, description",
        ("tools", "tools_ls"),
        "Plugin tools (built-in ones included) and folder tools\n"
        "(<tool dir>/<category>/<name>/config.json + code.py, named category.name).\n",
        aliases=("list",),
    )
    show = b.sub(
        verbs, "show", "one tool: description, params and result schemas", ("tools", "tool_show")
    )
    show.add_argument("name", metavar="NAME", help="a dotted tool name, e.g. file.read")
    call = b.sub(verbs, "call", "call a tool and print its result", ("tools", "tool_call"),
                 TOOLS_CALL_EPILOG)  # fmt: skip
    call.add_argument("name", metavar="NAME", help="a dotted tool name, e.g. kv.get")
    call.add_argument(
        "-p",
        dest="items",
        action="append",
        default=[],
        metavar="KEY=VALUE|KEY:=JSON",
        help="set one param: a string with '=', a JSON value with ':=' (repeatable)",
    )
    call.add_argument(
        "--params", metavar="JSON|@FILE|-", help="the params object: inline, from a file, stdin"
    )


def _add_plugins(b: _Builder, nouns: Subs) -> None:
    verbs = b.verbs(nouns, "plugins", "list plugins and what they add")
    b.sub(
        verbs,
        "ls",
        "list plugins: version, source, kinds, contributions, errors",
        ("commands", "plugins_ls"),
        aliases=("list",),
    )


def _add_daemon(b: _Builder, nouns: Subs) -> None:
    verbs = b.verbs(nouns, "daemon", "reload, shut down, status, ping")
    b.sub(verbs, "status", "same as `seqctl status`", STATUS)
    b.sub(verbs, "ping", "same as `seqctl ping`", PING)
    b.sub(verbs, "reload", "re-read the task directories (as on SIGHUP)", ("commands", "reload"))
    b.sub(verbs, "shutdown", "stop the daemon gracefully", ("commands", "shutdown"))


_NOUNS: dict[str, Callable[[_Builder, Subs], None]] = {
    "status": _add_status,
    "ping": _add_ping,
    "run": _add_run,
    "runs": _add_runs,
    "tasks": _add_tasks,
    "tools": _add_tools,
    "plugins": _add_plugins,
    "daemon": _add_daemon,
}


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value >= 0:  # also rejects nan
        raise argparse.ArgumentTypeError(f"seconds cannot be negative: {text!r}")
    return value


def _json_value(text: str) -> object:
    import json

    try:
        return json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from None


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError("must be between 1 and 1000")
    return value
