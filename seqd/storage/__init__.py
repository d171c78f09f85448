"""The core's side of storage: every call timed, counted and traced, and every write
announced to the event bus once stored (``traced``), the key-value cache in front of
the store (``kvcache``), export/import of a whole store as JSON Lines (``transfer``),
and retention: pruning finished runs on request and on the ``[retention]`` schedule
(``retention``). The interface backends implement is ``seqd.plugins.storage``; the
backends themselves are plugins.

May import: ``seqd.events``, ``seqd.plugins``, ``seqd.config``, ``seqd.model``,
``seqd.errors``.
"""
