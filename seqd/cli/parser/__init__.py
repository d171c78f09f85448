"""seqctl's command line, read with argparse: the top-level parser here, each noun's
commands and help in its own module (``runs``: run and runs; ``tasks``; ``tools``;
``schedules``; ``live``: watch and top; ``daemon``: status, ping, daemon and plugins;
``observe``: metrics and alerts), what they share in ``builder``.

``--socket`` and ``--json`` are accepted before the noun and after the verb alike (see
``builder.add_common``). Each command's handler is named by ``(module, function)``
and imported only when that command runs; likewise only the named noun's module is
imported and its sub-parsers built (see :func:`build_parser`). Plain ``seqctl
status`` and ``seqctl ping`` lines are read without argparse, by ``seqd.cli.quick``;
their help and errors still come from here.

May import: ``argparse`` and the standard library, ``seqd`` (its version),
``seqd.cli.quick`` and ``seqd.model.status``; never the handlers or the client.
"""

from __future__ import annotations

import argparse

from seqd import __version__
from seqd.cli.parser.builder import EXIT_STATUSES, Builder, Formatter, Parser, add_common
from seqd.cli.quick import COMMANDS, load, noun

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

MAIN_EPILOG = f"""\
examples:
  seqctl status                      is the daemon up, and how busy is it?
  seqctl tasks ls                    what can I run?
  seqctl run hello -i name=Ada       run a task, wait, print its output
  seqctl run slow -i seconds:=5 -f   ... and stream its log lines meanwhile
  seqctl runs ls --status failed     what went wrong lately?
  seqctl runs show last              everything about the run you started last
  seqctl watch                       runs as they change, live (seqctl top: full screen)
  seqctl schedules ls                what runs by itself, and when next?
  seqctl run t --each in.jsonl --wait   one run per line of in.jsonl, with progress
  seqctl completion bash > ~/.local/share/bash-completion/completions/seqctl

Where a command takes a run ID, a unique prefix of it works too (4+ digits), and
`last` (the newest run started, not a state of a flow) or `last:TASK` (the
newest run of TASK).

The socket is --socket, else $SEQD_SOCKET, else your own daemon's socket
(<runtime dir>/seqd/seqd.sock), else the system daemon's (/run/seqd/seqd.sock).
Every command takes --json for machine-readable output.

{EXIT_STATUSES}"""


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole command line; given ``argv``, only the part its noun needs (building
    every sub-parser costs several milliseconds of start-up)."""
    parser = Parser(
        prog="seqctl",
        description="Talk to the seqd daemon: run tasks, inspect runs, manage the daemon.",
        epilog=MAIN_EPILOG,
        formatter_class=Formatter,
    )
    add_common(parser, None)
    parser.add_argument("--version", action="version", version=f"seqctl {__version__}")
    nouns = parser.add_subparsers(
        title="commands", metavar="<command>", dest="command", required=True, prog="seqctl"
    )
    at = noun(argv or ())
    wanted = None if at is None or argv is None else argv[at]
    if wanted not in COMMANDS:
        wanted = None  # none, or not a built-in one: build all (and list plugins' commands)
    b = Builder()
    for name, adds in COMMANDS.items():
        if wanted is None or wanted == name:
            load(adds)(b, nouns)
    if wanted is None:
        add_extensions(nouns)
    return parser


def add_extensions(nouns: argparse._SubParsersAction[Parser]) -> None:
    """The commands installed packages add (``seqd.cli.extensions``), after the
    built-in ones: listed by ``seqctl --help``, offered by "did you mean" and by
    completion. They are run before argparse sees the line (``seqd.cli.main``), so
    these entries only describe them."""
    from seqd.cli.extensions import summaries

    for name, summary in summaries().items():
        if name not in COMMANDS:
            nouns.add_parser(name, help=summary, add_help=False)
