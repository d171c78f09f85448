"""The spawner: a small process that starts commands for the daemon.

``seqd.spawner.client`` is the daemon's side (``Spawner``, ``run_command``);
``seqd.spawner.server`` is the loop of the ``python -m seqd.spawner`` process;
``seqd.spawner.messages`` holds the frames they exchange.
"""
