"""Commands that installed packages add to seqctl (``seqctl mcp`` of seqd-mcp, say).

A package declares one in the ``seqd.seqctl`` entry-point group: the name is the
command word, the value a function ``main(argv: list[str]) -> int`` that gets the words
after that word — with ``--socket PATH`` and ``--json``, when given before the word,
in front — and returns the exit status. Its docstring's first line is the command's
line in ``seqctl --help``. The function's module should import little at the top:
``seqctl --help`` imports it to read that line.

Looked up only when the command word is not one of seqctl's own (``quick.COMMANDS``)
and for the help, "did you mean" and completion: ``importlib.metadata`` costs more than
``seqctl status`` does in all, so the everyday commands never import this module.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from importlib.metadata import EntryPoint

    Command = Callable[[list[str]], int]

GROUP = "seqd.seqctl"
USAGE = 2


def run(words: Sequence[str], at: int) -> int | None:
    """Run the installed command named by ``words[at]`` (seqctl's command line and
    where its command word is); None when no installed package adds such a command."""
    word = words[at]
    entry = _entry_points().get(word)
    if entry is None:
        return None
    try:
        command: Command = entry.load()
    except Exception as exc:  # a broken package: say which, never a traceback
        print(
            f"seqctl: error: command {word!r} ({entry.value}) cannot be loaded: {exc}",
            file=sys.stderr,
        )
        return USAGE
    # The options given before the command word, then the words after it.
    return command([*words[:at], *words[at + 1 :]])


def summaries() -> dict[str, str]:
    """Each installed command and its line of help."""
    found = {}
    for name, entry in sorted(_entry_points().items()):
        try:
            doc = entry.load().__doc__ or ""
        except Exception as exc:
            doc = f"(cannot be loaded: {exc})"
        found[name] = doc.strip().split("\n", 1)[0] or f"(from {entry.value})"
    return found


def _entry_points() -> dict[str, EntryPoint]:
    from importlib.metadata import entry_points

    return {entry.name: entry for entry in entry_points(group=GROUP)}
