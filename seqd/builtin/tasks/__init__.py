"""Built-in task types: ``python`` (a function in ``code.py``), ``shell`` (a command)
and ``flow`` (a graph in ``graph.json``); ``stderr_tail`` keeps the last lines a failed
command wrote to stderr for its error.
"""
