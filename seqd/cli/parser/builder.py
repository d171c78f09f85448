"""What every seqctl command line shares: ``--socket`` and ``--json`` before the noun
and after the verb alike, the help layout, the options that build a JSON object
(``-i``/``--input``, ``-p``/``--params``), the value checks and the exit-status text.

Its own module so that each noun's module (``runs``, ``tasks``, ``tools``,
``daemon``) says only what is particular to its commands.
"""

from __future__ import annotations

import argparse
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn, TypeAlias

    from seqd.cli.quick import Handler

EXIT_STATUSES = """\
exit status:
  0  ok
  1  the run failed, was cancelled or was still unfinished when --timeout ran out
     (tasks validate: the task has problems)
  2  usage error (bad option, bad -i item, unreadable --input)
  3  the daemon is unreachable (nothing listens on the socket, connection lost, the
     process listening is not one to trust, or its reply is unusable)
  4  the daemon refused the request (not found, invalid params, permission, rate limit)
"""

Subs: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class CommandLineError(Exception):
    """argparse's error, raised instead of printed (and exit 2) so that ``seqd.cli.main``
    reports it like every other usage error, as JSON too with ``--json``."""

    def __init__(self, usage: str, prog: str, message: str) -> None:
        super().__init__(message)
        self.usage = usage
        self.prog = prog
        self.message = message


class Parser(argparse.ArgumentParser):
    """seqctl's parsers: errors are raised (``CommandLineError``), and a mistyped
    command or choice gets "did you mean"."""

    def error(self, message: str) -> NoReturn:
        raise CommandLineError(self.format_usage(), self.prog, message)

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        choices = action.choices
        if choices is not None and value not in choices:
            from seqd.model.suggest import did_you_mean  # only on this error path

            listed = ", ".join(map(repr, choices))
            hint = did_you_mean(value, choices) if isinstance(value, str) else ""
            raise argparse.ArgumentError(
                action, f"invalid choice: {value!r}{hint} (choose from {listed})"
            )
        super()._check_value(action, value)


COMPLETES = "seqctl_complete"
"""Attribute of an argument whose values seqctl can list from the daemon (its kind,
for ``seqctl __complete KIND``): turned into shell code by ``seqd.cli.completion``."""


def completes(action: argparse.Action, kind: str) -> argparse.Action:
    """Mark ``action``'s values as completed from the daemon: ``tasks``, ``runs``,
    ``tools`` or ``schedules``."""
    setattr(action, COMPLETES, kind)
    return action


class Formatter(argparse.RawDescriptionHelpFormatter):
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


class Builder:
    """Adds sub-parsers sharing one ``--socket``/``--json`` parent."""

    def __init__(self) -> None:
        self.common = argparse.ArgumentParser(add_help=False, formatter_class=Formatter)
        add_common(self.common, argparse.SUPPRESS)

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
            formatter_class=Formatter,
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


def add_common(parser: argparse.ArgumentParser, default: object) -> None:
    """``--socket`` and ``--json``: with their defaults on the top-level parser, with
    SUPPRESS on the sub-parsers, so that a value given early is not reset by a
    sub-parser that did not see it."""
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


def add_object_options(
    parser: argparse.ArgumentParser, item: str, whole: str, field: str, obj: str
) -> None:
    """``item`` (``-i``) sets one ``field`` of the object, ``whole`` (``--input``)
    gives all of ``obj``; ``seqd.cli.inputs.build_input`` reads the two together."""
    parser.add_argument(
        item,
        dest="items",
        action="append",
        default=[],
        metavar="KEY=VALUE|KEY:=JSON",
        help=f"set one {field}: a string with '=', a JSON value with ':='; "
        "'=@FILE' / ':=@FILE' read it from a file (repeatable)",
    )
    parser.add_argument(
        whole, metavar="JSON|@FILE|-", help=f"the {obj} object: inline, from a file, stdin"
    )


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value >= 0:  # also rejects nan
        raise argparse.ArgumentTypeError(f"seconds cannot be negative: {text!r}")
    return value


def duration(text: str) -> float:
    """Seconds of a duration as people type them: ``90s``, ``10m``, ``1h30m``, ``2d``."""
    from seqd.errors import ValidationFailed
    from seqd.model.durations import parse_duration

    try:
        return parse_duration(text, "duration")
    except ValidationFailed as exc:
        raise argparse.ArgumentTypeError(exc.message.removeprefix("duration: ")) from None


def count(text: str) -> int:
    return _whole(text, 0, 100_000)


def json_value(text: str) -> object:
    import json

    try:
        return json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from None


def run_ref(text: str) -> str:
    """A run as the daemon takes it (``seqd.rpc.params.RUN_REF_PATTERN``), checked
    here so that a typo is a usage error that says what a run reference is."""
    import re

    if re.fullmatch(r"[0-9a-f]{4,64}|last(:[a-z0-9][a-z0-9_.-]{0,127})?", text) is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a run: give its id, a unique prefix of it (4 or more of "
            "its hex digits), last (the newest run started) or last:TASK"
        )
    return text


def limit(text: str) -> int:
    return _whole(text, 1, 1000)


def _whole(text: str, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
    return value
