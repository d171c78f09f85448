"""The spawner: a small process that starts commands for the daemon.

The daemon's side: ``run.run_command`` runs one command to its end, through a
``client.Spawner`` (which keeps the spawner process alive) and a
``command.RunningCommand`` (one command's output and end). The spawner process
(``python -m seqd.runtime.spawner``): ``server`` is its loop, ``launch`` starts a
command, ``spares`` reuses work dirs. ``messages`` holds the frames they exchange and
``CommandSpec``. Nothing is imported here, so that the spawner process stays small.
"""
