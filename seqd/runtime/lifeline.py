"""The life of a helper process (a python worker, the shell spawner), from its side: it
is started as ``python -m MODULE FD PARENT_PID``, dies with the daemon, serves its
control channel and leaves through ``os._exit``.

Its own module because both helpers start through it, and it imports only the
standard library: each helper calls it first thing at start-up.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from typing import NoReturn

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
EXIT_USAGE = 2
EXIT_SOFTWARE = 70
"""``EX_SOFTWARE``: the helper failed unexpectedly (its traceback is on its stderr)."""


def _prctl(option: int, value: int) -> None:
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


def die_with_parent(parent: int) -> None:
    """Ask the kernel for SIGKILL when the parent (the daemon's spawning thread) goes;
    exit at once if it already went."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


def not_dumpable() -> None:
    """Keep other processes of this user — the tasks — out of this one: with the
    process not dumpable, its ``/proc/<pid>/environ`` and memory are root's to read
    (and it leaves no core dump). The daemon holds secrets and its own environment;
    the helpers see the secrets of the commands and runs they serve."""
    _prctl(PR_SET_DUMPABLE, 0)


def run_helper(
    module: str,
    serve: Callable[[int], int],
    gone: tuple[type[BaseException], ...],
    argv: list[str] | None = None,
) -> NoReturn:
    """Read ``FD PARENT_PID`` from ``argv`` (default: ``sys.argv``), bind to the
    parent's life, then exit with what ``serve(fd)`` returns: 0 if it raised one of
    ``gone`` (the daemon went away), ``EXIT_SOFTWARE`` for anything else. Always
    through ``os._exit``, so that threads left behind can never hold the process open."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or not all(a.isdigit() for a in args):
        print(f"usage: python -m {module} FD PARENT_PID", file=sys.stderr)
        os._exit(EXIT_USAGE)
    fd, parent = int(args[0]), int(args[1])
    die_with_parent(parent)
    not_dumpable()
    code = 0
    try:
        code = serve(fd)
    except gone:
        code = 0
    except BaseException:
        import traceback

        traceback.print_exc(file=sys.__stderr__)
        code = EXIT_SOFTWARE
    finally:
        for stream in (sys.__stdout__, sys.__stderr__):
            if stream is not None:
                try:
                    stream.flush()
                except (OSError, ValueError):
                    pass
    os._exit(code)
