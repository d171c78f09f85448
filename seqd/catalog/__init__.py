"""The task catalog: loading one task folder into a validated definition (``load``),
the current definition of every task (``catalog``), and reloading when a folder changes
(``watch``, over Linux ``inotify``).

May import: ``seqd.plugins``, ``seqd.rpc.protocol``, ``seqd.config``, ``seqd.model``,
``seqd.errors``.
"""
