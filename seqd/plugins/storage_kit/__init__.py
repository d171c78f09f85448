"""Helpers for storage backends: the code every backend would otherwise write again,
built-in or third-party. Beside the contract (``seqd.plugins.storage``), never part of
it: a backend may use any of these, or none.

One module per concern:

- ``options``: a backend's ``[backends.<name>]`` table, its durability, its paths.
- ``errors``: the conflicts and outages every backend reports, worded once.
- ``lockfile``: a ``flock``ed file that says "held by a live process" (a store's claim).
- ``records``: the runs, journal entries and key-value entries a backend hands back
  (numbering, paging, prefix listing, id prefix ranges).
- ``batches``: the checks of ``create_runs`` (keys, holders, ids), before a store
  inserts a batch.
- ``sql``: what SQL backends share: the statements (for any placeholder style) and
  how their rows become records.
- ``schema``: versioned schemas: migration order, refusing a store from a newer seqd.
- ``reader_pool`` and ``batch_writer``: threads for backends on a blocking library
  (reads on a small pool, writes on one thread that commits in batches).

May import: ``seqd.plugins.storage``, ``seqd.model``, ``seqd.errors``.
"""
