"""Riding out a daemon restart while waiting: a read-only call is tried again while
the daemon is away for a moment, so ``seqctl run``, ``runs wait``, ``logs -f`` and
``run --each --wait`` survive ``systemctl restart seqd``.

Its own module because every command that waits uses it, and those commands live in
several modules (``runs``, ``each``).
"""

from __future__ import annotations

import time

from seqd.client import DaemonUnreachable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import ParamSpec, TypeVar

    from seqd.cli.output import Out

    T = TypeVar("T")
    P = ParamSpec("P")

RECONNECT_S = 30.0
"""How long a waiting command keeps trying to reach a daemon that went away."""
RECONNECT_PAUSE_S = 0.5
INTERRUPTED = 130
"""The exit status when Ctrl-C stops the waiting (never the runs)."""


def patient(out: Out, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Retry a read-only call while the daemon is away for a moment (a restart), so
    waiting on a run survives ``systemctl restart seqd``; give up after RECONNECT_S."""
    give_up: float | None = None
    while True:
        try:
            return call(*args, **kwargs)
        except DaemonUnreachable as exc:
            now = time.monotonic()
            if give_up is None:
                give_up = now + RECONNECT_S
                out.error(f"lost the daemon ({exc.reason}); retrying for {RECONNECT_S:g}s")
            if now >= give_up:
                raise
            time.sleep(RECONNECT_PAUSE_S)
