"""Who may do what: the role of each peer and each run, and every decision made on it —
which methods and tools a caller may use, which runs it may manage, and what it may see
of a run or of the daemon's status.

``roles`` maps peer credentials (uid, primary and supplementary groups) and run
submitters to roles from ``[access]``; ``policy`` is the one place the API, the engine
and the tool service ask "may C do A on R" and "what does C see of R".

May import: ``seqd.plugins``, ``seqd.config``, ``seqd.rpc``, ``seqd.model``,
``seqd.errors``. Sits beside ``seqd.flow`` and ``seqd.runtime``: the engine, the tools
and the API above it use it.
"""
