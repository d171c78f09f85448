"""The command lines typed most — ``seqctl status`` and ``seqctl ping``, with
``--json`` and ``--socket PATH`` before or after the noun — read without argparse.

argparse imports ``re`` and ``gettext`` (and through them ``enum``, ``locale``...):
on a slow host, more than everything else ``seqctl status`` does. :func:`parse`
accepts only lines that argparse reads in one obvious way and gives the same
attributes; for anything else — another command, ``--help``, an abbreviated or
unusual option, a mistake — it returns None and ``seqd.cli.parser`` reads the line as
before, so help and errors are argparse's own. tests/cli/test_seqctl.py checks that
the two agree.

The table of seqctl's own commands (:data:`COMMANDS`) is here too, for the same
reason: ``seqd.cli.main`` tells a command an installed package adds
(``seqd.cli.extensions``) from a built-in one without importing argparse.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from argparse import Namespace
    from collections.abc import Sequence
    from typing import Any, TypeAlias
else:

    class Namespace:
        """The attributes argparse would set (``argparse.Namespace`` without argparse)."""

        def __init__(self, **attributes: object) -> None:
            self.__dict__.update(attributes)


Handler: TypeAlias = tuple[str, str]
"""(module under seqd.cli, function) of a command's handler."""


def load(named: tuple[str, str]) -> Any:
    """The function named by (module under seqd.cli, function), imported now: a
    command's handler, or the parser of one noun. ``__import__`` with ``fromlist``
    returns the submodule (importlib would be one more import)."""
    module, name = named
    return getattr(__import__(f"seqd.cli.{module}", fromlist=[name]), name)


COMMANDS: dict[str, Handler] = {
    "status": ("parser.daemon", "add_status"),
    "ping": ("parser.daemon", "add_ping"),
    "run": ("parser.runs", "add_run"),
    "runs": ("parser.runs", "add_runs"),
    "tasks": ("parser.tasks", "add_tasks"),
    "tools": ("parser.tools", "add_tools"),
    "schedules": ("parser.schedules", "add_schedules"),
    "watch": ("parser.live", "add_watch"),
    "top": ("parser.live", "add_top"),
    "plugins": ("parser.daemon", "add_plugins"),
    "nodes": ("parser.daemon", "add_nodes"),
    "metrics": ("parser.observe", "add_metrics"),
    "alerts": ("parser.observe", "add_alerts"),
    "web": ("parser.web", "add_web"),
    "daemon": ("parser.daemon", "add_daemon"),
    "completion": ("parser.daemon", "add_completion"),
}
"""seqctl's own commands, in the order of ``seqctl --help``, and the function that adds
each one's parser (``seqd.cli.parser``)."""


def noun(argv: Sequence[str]) -> int | None:
    """Where the command word of ``argv`` is: its first word that is not an option
    (nor the value of ``--socket``); None when there is none."""
    skip = False
    for at, arg in enumerate(argv):
        if skip:
            skip = False
        elif arg == "--socket":
            skip = True
        elif not arg.startswith("-"):
            return at
    return None


STATUS: Handler = ("commands", "status")
PING: Handler = ("commands", "ping")
NOUNS = {"status": STATUS, "ping": PING}
"""The nouns read here: no arguments of their own, only ``--json`` and ``--socket``."""


def parse(argv: Sequence[str]) -> Namespace | None:
    """``argv`` as ``build_parser(argv).parse_args(argv)`` reads it, if it is one of
    :data:`NOUNS` with nothing but ``--json``, ``--socket PATH`` and ``--socket=PATH``
    around it (the last ``--socket`` wins); else None."""
    noun = socket = None
    json = False
    args = iter(argv)
    for arg in args:
        if arg == "--json":
            json = True
        elif arg == "--socket":
            socket = next(args, None)
            if socket is None or socket.startswith("-"):
                return None  # argparse decides whether "-..." is a value or an option
        elif arg.startswith("--socket="):
            socket = arg.removeprefix("--socket=")
        elif noun is None and arg in NOUNS:
            noun = arg
        else:
            return None
    if noun is None:
        return None
    return Namespace(socket=socket, json=json, command=noun, handler=NOUNS[noun])
