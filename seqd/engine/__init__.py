"""The run engine: ``Engine`` (``engine``) accepts runs and hands them to worker slots
(``slots``); its parts are every status change (``transitions``), executing a run (``execution``),
the job a task type sees (``job``) and its log (``runlog``), retry back-off
(``retries``), suspension and signals (``suspension``, ``wakeups``), cancellation
(``cancellation``), recovery at start-up (``recovery``, ``orphans``), the run queue
(``queue``), the checks on what callers send (``validation``), the records of new
runs, one or a batch of them (``accepting``), what a running job asks of the engine
(``services``), and the engine as one node of a store shared by several daemons
(``cluster``: claims, notes between nodes, takeovers).

May import: ``seqd.tools``, ``seqd.catalog``, ``seqd.storage``, ``seqd.events``,
``seqd.flow``, ``seqd.runtime``, ``seqd.plugins``, ``seqd.config``, ``seqd.rpc``,
``seqd.model``, ``seqd.errors``.
"""

from seqd.engine.engine import Engine

__all__ = ["Engine"]
