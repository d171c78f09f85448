"""The two pipes a child process writes its stdout and stderr to, made before it is
started: the child gets the write ends, the parent keeps the read ends.

Its own module because the spawner (for each command) and the daemon (for each python
worker) hand out pipes the same way, and never leak one when a start fails. The
standard library only: the spawner process imports it.
"""

from __future__ import annotations

import os
from types import TracebackType


class OutputPipes:
    """``with OutputPipes() as pipes:`` start the child with ``pipes.out_w`` and
    ``pipes.err_w``; on leaving, those write ends are closed (the child has its own
    copies), and if the start raised, the read ends ``out_r``/``err_r`` too."""

    def __init__(self) -> None:
        self.out_r, self.out_w = os.pipe()
        try:
            self.err_r, self.err_w = os.pipe()
        except BaseException:
            os.close(self.out_r)
            os.close(self.out_w)
            raise

    def __enter__(self) -> OutputPipes:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            os.close(self.out_r)
            os.close(self.err_r)
        os.close(self.out_w)
        os.close(self.err_w)
