"""Process machinery that task types and tools run on: the python worker process
(``worker``) and the daemon's pool of them (``workerpool``), the spawner process that
starts commands (``spawner``), their frames (``frames``), output line splitting
(``lines``), process outcomes (``procs``), a helper process's life from its side
(``lifeline``) and from the daemon's (``helpers``), and path confinement
(``confine``).

Public for plugin authors. May import: ``seqd.plugins`` (interfaces), ``seqd.config``,
``seqd.model``, ``seqd.errors``. ``worker`` runs in its own process and imports only
what task code needs.
"""
