"""Shell completion: ``seqctl completion bash|zsh|fish`` prints a script generated from
seqctl's own argparse parser by ``shtab``, so every command and option completes and
the script cannot drift from the parser. Arguments whose values live in the daemon
(marked with ``parser.builder.completes``: task, run, tool and schedule names) call
back into ``seqctl __complete KIND``, which asks the daemon and prints one candidate
per line — fast, and nothing at all when the daemon does not answer in time.

``shtab`` is imported by the ``completion`` command only; ``__complete`` imports
nothing beyond the plain client, since it runs on every press of Tab.
"""

from __future__ import annotations

from seqd.client import Client, ClientError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Iterator, Sequence
    from typing import Any

    from seqd.cli.output import Out

ANSWER_WITHIN_S = 1.0
"""How long Tab may wait for the daemon before completing nothing."""
RECENT_RUNS = 50
"""Run ids offered: the newest runs (besides ``last``)."""


def completion(client: Client, args: argparse.Namespace, out: Out) -> int:
    import shtab

    from seqd.cli.parser import build_parser
    from seqd.cli.parser.builder import COMPLETES

    parser = build_parser(None)
    for action in _actions(parser):
        kind = getattr(action, COMPLETES, None)
        if kind is not None:
            action.complete = from_daemon(kind)  # type: ignore[attr-defined]
    out.stdout.write(shtab.complete(parser, args.shell))
    return 0


def from_daemon(kind: str) -> dict[str, Any]:
    """shtab's completion of an argument by ``seqctl __complete KIND``, asked at each
    press of Tab: a shell function for bash and zsh (shtab's own ``cmd`` would run the
    command once, when zsh reads the script), a command substitution for fish."""
    function = f"_seqctl_complete_{kind}"
    ask = f"seqctl __complete {kind} 2>/dev/null"
    return {
        "bash": function,
        "zsh": function,
        "fish": f"({ask})",
        "preamble": {
            "bash": f'{function}() {{\n  compgen -W "$({ask})" -- "$1"\n}}\n',
            "zsh": (
                f"{function}() {{\n  local -a names\n"
                f'  names=(${{(f)"$({ask})"}})\n  compadd -a names\n}}\n'
            ),
        },
    }


def _actions(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    """Every argument of ``parser`` and of all its sub-parsers, each once."""
    seen: set[int] = set()
    todo = [parser]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        for action in current._actions:
            yield action
            if isinstance(action.choices, dict):  # sub-commands (aliases share a parser)
                todo.extend(action.choices.values())


def candidates(words: Sequence[str]) -> int:
    """``seqctl [--socket PATH] __complete KIND``: the names of KIND, one per line
    (exit 0 always)."""
    at = list(words).index("__complete")
    before, after = list(words[:at]), list(words[at + 1 :])
    socket = before[1] if before[:1] == ["--socket"] and len(before) == 2 else None
    if len(before) == 1 and before[0].startswith("--socket="):
        socket = before[0].removeprefix("--socket=")
    lister = _LISTERS.get(after[0] if after else "")
    if lister is None:
        return 0
    try:
        with Client(socket, timeout=ANSWER_WITHIN_S, typed=False) as client:
            names = list(lister(client))
    except (ClientError, OSError, ValueError, KeyError, TypeError, AttributeError):
        return 0  # no daemon, a slow one, or one without that method: complete nothing
    import sys

    sys.stdout.write("".join(f"{name}\n" for name in names))
    return 0


def _runs(client: Client) -> Iterator[str]:
    yield "last"
    for run in client.list_runs(limit=RECENT_RUNS).runs:
        yield run.id


def _schedules(client: Client) -> Iterator[str]:
    """Schedule names, from a daemon that has them (``schedules.list``)."""
    result: Any = client.call("schedules.list")
    listed = result.get("schedules", []) if isinstance(result, dict) else result
    for schedule in listed:
        yield schedule["name"] if isinstance(schedule, dict) else str(schedule)


_LISTERS: dict[str, Callable[[Client], Iterator[str]]] = {
    "tasks": lambda client: (task.name for task in client.tasks()),
    "tools": lambda client: (tool.name for tool in client.tools()),
    "runs": _runs,
    "schedules": _schedules,
}
