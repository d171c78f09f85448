"""The daemon process: its command line and main loop (``main``), the assembly of
plugins, storage, catalog, engine, tools and server (``app``), systemd's protocols
(``systemd``), the ``seqd export`` / ``seqd import`` commands (``transfer_cli``), and
the debugging aid that finds what holds up the event loop (``loopwatch``).

The top layer: may import anything in seqd but ``seqd.cli``, ``seqd.client`` and
``seqd.builtin`` (built-in plugins are loaded by the plugin host, by name).
"""
