"""A seqd plugin that only makes the daemon big: its ``seqd_startup`` hook allocates
``$SEQD_BENCH_BALLAST_MB`` MiB (default 1024) and writes every page, so the memory is
really resident. The benchmarks install it into a private directory on the daemon's
``PYTHONPATH`` to measure how a large daemon spawns and serves — nothing in seqd knows
about it. Never install it anywhere else.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from seqd import hookimpl

logger = logging.getLogger(__name__)

PAGE = 4096
_held: list[bytearray] = []


def allocate(mib: int) -> bytearray:
    """``mib`` MiB with one byte written in every page (a fresh bytearray is zero pages
    the kernel has not backed yet)."""
    ballast = bytearray(mib * 2**20)
    ballast[::PAGE] = b"\x01" * len(range(0, len(ballast), PAGE))
    return ballast


@hookimpl
def seqd_startup(daemon: Any) -> None:
    mib = int(os.environ.get("SEQD_BENCH_BALLAST_MB", "1024"))
    _held.append(allocate(mib))
    logger.info("bench ballast: %d MiB resident in daemon pid %d", mib, daemon.pid)
