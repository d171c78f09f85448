"""The two pipes a child process writes its stdout and stderr to, made before it is
started: the child gets the write ends, the parent keeps the read ends.

Its own module because the spawner (for each command) and the daemon (for each python
worker) hand out pipes the same way, and never leak one when a start fails. The
standard library only: the spawner process imports it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


class OutputPipes:
    """The read ends (``out_r``, ``err_r``) the parent keeps and the write ends
    (``out_w``, ``err_w``) the child is started with."""

    __slots__ = ("err_r", "err_w", "out_r", "out_w")

    def __init__(self, out: tuple[int, int], err: tuple[int, int]) -> None:
        self.out_r, self.out_w = out
        self.err_r, self.err_w = err


@contextlib.contextmanager
def output_pipes() -> Iterator[OutputPipes]:
    """``with output_pipes() as pipes:`` start the child with ``pipes.out_w`` and
    ``pipes.err_w``; on leaving, those write ends are closed (the child has its own
    copies), and if the start raised, the read ends too."""
    out = os.pipe()
    try:
        err = os.pipe()
    except BaseException:
        os.close(out[0])
        os.close(out[1])
        raise
    pipes = OutputPipes(out, err)
    try:
        yield pipes
    except BaseException:
        os.close(pipes.out_r)
        os.close(pipes.err_r)
        raise
    finally:
        os.close(pipes.out_w)
        os.close(pipes.err_w)
