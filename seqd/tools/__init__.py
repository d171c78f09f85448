"""The daemon's side of tools: the one way a tool is called (``service``: params
checked, rate-limited, traced, journaled when a run calls it), tools defined as folders
(``folder``), and token buckets (``ratelimit``). The ``Tool`` interface that plugins
implement is ``seqd.plugins.tools``.

May import: ``seqd.catalog``, ``seqd.storage``, ``seqd.events``, ``seqd.plugins``,
``seqd.rpc``, ``seqd.config``, ``seqd.model``, ``seqd.errors``.
"""
