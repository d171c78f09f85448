"""Run ids that sort by creation time, so "newest first" is an index scan on the id."""

from __future__ import annotations

import os
import random
import threading
import time

ID_LENGTH = 24
"""Hex digits in the ids made here (ids from elsewhere, imported, may differ)."""


class IdGenerator:
    """Ids of 24 hex digits: 48-bit milliseconds, a 16-bit counter, 32 random bits.

    Monotonic within one process even when the clock steps back or many ids fall in one
    millisecond; the random tail keeps several nodes sharing one store apart.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = 0
        self._counter = 0
        # Seeded from the OS once; a syscall per id costs more than the id itself.
        self._random = random.Random(os.urandom(16))

    def new(self) -> str:
        with self._lock:
            ms = int(time.time() * 1000)
            if ms <= self._last_ms:
                ms = self._last_ms
                self._counter += 1
                if self._counter > 0xFFFF:
                    ms += 1
                    self._counter = 0
            else:
                self._counter = 0
            self._last_ms = ms
            counter = self._counter
            tail = self._random.getrandbits(32)
        return f"{ms:012x}{counter:04x}{tail:08x}"


def first_id_at(epoch_s: float) -> str:
    """A bound below every id made from ``epoch_s``'s millisecond on, and above every
    id made before it: "created before" on ids alone."""
    return f"{max(0, int(epoch_s * 1000)):012x}"
