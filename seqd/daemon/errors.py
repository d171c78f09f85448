"""``StartupError``: why the daemon cannot start, and with which exit status.

Its own module because every part of the start-up (the socket, the store, the plugins,
the config) raises it and ``main`` maps it to an exit status.
"""

from __future__ import annotations


class StartupError(Exception):
    """The daemon cannot start; the message says why and what to do. ``exit_code``
    is 2 for a configuration mistake, 1 otherwise."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
