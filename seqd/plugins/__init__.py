"""The plugin system: the interface of each kind of plugin (``storage``, ``tasktype``,
``tools``, ``tracing``), the helpers storage backends share (``storage_kit``), the hook
specifications (``hookspecs``), what lifecycle hooks learn of the daemon
(``daemoninfo``), and the host that loads built-in and entry-point plugins into
registries (``host``).

Plugin authors import from the interface modules and ``storage_kit`` here, and from
``seqd.model``, ``seqd.errors``, ``seqd.runtime``, ``seqd.flow`` and ``seqd.testing``
(docs/plugins.md); never from ``host``. May import: ``seqd.config``, ``seqd.rpc``, ``seqd.model``,
``seqd.errors``.
"""
