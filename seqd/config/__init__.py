"""Daemon configuration: the typed settings (``settings``), the layers they come from
(defaults < TOML file < ``SEQD_*`` environment < flags), and where the socket, state and
config live (``paths``, which ``seqctl`` imports alone, without the rest).

May import: ``seqd.rpc.protocol`` (wire limits), ``seqd.model``, ``seqd.errors``.
"""
