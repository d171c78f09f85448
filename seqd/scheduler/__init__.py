"""The scheduler: runs started by time — once (``at``), at an interval (``every``) or by
a cron expression — each fire exactly once, through restarts and crashes.

One module per job: the definition's rules and its compiled plan (``spec``), fire
times in zones with DST and jitter (``times``, ``zones``), the one loop timer
(``timer``), what a fire does and the cursor that makes it happen once
(``scheduler``; a held schedule and its next fire: ``entries``), the overlap and
misfire policies (``policies``), what callers do to schedules (``operations``),
schedules from task configs (``configured``), and what happened, said in one place
(``events``). docs/schedules.md is the user's guide.

The layer between ``seqd.api`` and ``seqd.engine``: it submits runs through the engine.
May import: ``seqd.engine`` and every layer below it (``seqd.tools``, ``seqd.catalog``,
``seqd.storage``, ``seqd.flow``, ``seqd.runtime``, ``seqd.plugins``, ``seqd.config``,
``seqd.rpc``, ``seqd.model``, ``seqd.errors``).
"""

from seqd.scheduler.scheduler import Scheduler

__all__ = ["Scheduler"]
