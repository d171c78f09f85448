"""Built-in plugins, registered through the same hooks as external ones and using only
what a third-party plugin could: ``seqd.plugins`` (not its host), ``seqd.runtime``,
``seqd.flow``, ``seqd.config``, ``seqd.model``, ``seqd.errors``.

One package per kind: ``storage`` (``sqlite``, ``fs``), ``tasks`` (``python``,
``shell``, ``flow``), ``tools`` and ``tracers``; ``seqd.plugins.host`` lists them.
"""
