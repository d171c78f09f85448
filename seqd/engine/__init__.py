"""Run execution: queue, state machine, jobs, recovery."""

from seqd.engine.engine import Engine

__all__ = ["Engine"]
