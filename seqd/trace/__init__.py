"""Traces of runs: the spans of a run and of its journaled operations built from what
storage holds (``spans``), a run's whole tree read back for ``runs.trace``
(``collect``), and the spans of each ended run handed to the tracers that want them,
off the run's path (``reporter``).

Nothing here is stored: runs (with their trace id and parent span) and journal entries
(with their times) already are, and span ids are derived from them
(``seqd.model.traces``). Storage calls are spans only live (``seqd.storage.traced``).

May import: ``seqd.plugins`` (not its host), ``seqd.config``, ``seqd.rpc``,
``seqd.model``, ``seqd.errors``. Sits beside ``seqd.flow`` and ``seqd.runtime``; the
engine and the API use it.
"""
