"""Spotting an argv that hands an input to a shell as code.

``["sh", "-c", "echo {name}"]`` substitutes the input into the script a shell then
runs: an input such as ``x; rm -rf ~`` is a command. That is legal, so it is a warning
(``tasks.validate``, and the daemon's log when the task loads), with the safe forms:
the input as an argument of the script (``["sh", "-c", "echo \\"$1\\"", "sh",
"{name}"]``) or read from the environment (``$SEQD_INPUT_NAME``).

Its own module because reading a shell's command line (its options, ``env`` and
``busybox`` in front) is its own small parser, apart from running commands.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from seqd.model.tasks import Problem

SHELLS = frozenset(
    {"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "yash", "posh", "fish", "csh", "tcsh"}
)
"""Programs whose ``-c`` argument is a script."""


def _program(argv: Sequence[str]) -> int | None:
    """Where the shell is in ``argv`` (after ``env [-i] [VAR=x]...`` or ``busybox``)."""
    i = 0
    while i < len(argv):
        name = os.path.basename(argv[i])
        if name == "env":
            i += 1
            while i < len(argv) and (argv[i].startswith("-") or "=" in argv[i]):
                i += 1
            continue
        if name == "busybox" and i + 1 < len(argv):
            i += 1
            continue
        return i if name in SHELLS else None
    return None


def script_index(argv: Sequence[str]) -> int | None:
    """The index of the script a known shell runs with ``-c`` in ``argv``, or None."""
    start = _program(argv)
    if start is None:
        return None
    command = False
    i = start + 1
    while i < len(argv):
        arg = argv[i]
        if arg in ("-o", "+o"):
            i += 2
            continue
        if arg == "--" or not arg.startswith(("-", "+")) or arg in ("-", "+"):
            if arg == "--":
                i += 1
            return i if command and i < len(argv) else None
        if arg.startswith("-") and not arg.startswith("--") and "c" in arg[1:]:
            command = True
        i += 1
    return None


def script_warnings(argv: Sequence[str], placeholders: Callable[[str], list[str]]) -> list[Problem]:
    """A warning when the ``-c`` script of a known shell holds ``{name}`` placeholders."""
    index = script_index(argv)
    if index is None:
        return []
    names = placeholders(argv[index])
    if not names:
        return []
    shell = os.path.basename(argv[_program(argv) or 0])
    listed = ", ".join("{" + n + "}" for n in dict.fromkeys(names))
    first = names[0]
    return [
        Problem(
            where=f"config.json: command[{index}]",
            message=(
                f"{listed} is put into the script {shell} runs: an input's text becomes "
                f'shell code there. Pass it as an argument — ["{shell}", "-c", '
                f'"... \\"$1\\" ...", "{shell}", "{{{first}}}"] — or read '
                f"$SEQD_INPUT_{first.upper()} in the script"
            ),
        )
    ]
