"""Built-in tracers: ``log`` writes run transitions and daemon lifecycle events into
the daemon's log.
"""
