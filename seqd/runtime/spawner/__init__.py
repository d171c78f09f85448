"""The spawner: a small process that starts commands for the daemon.

``seqd.runtime.spawner.client`` is the daemon's side (``Spawner``, ``run_command``);
``seqd.runtime.spawner.server`` is the loop of the ``python -m seqd.runtime.spawner`` process;
``seqd.runtime.spawner.messages`` holds the frames they exchange.
"""
