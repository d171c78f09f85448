"""Built-in task types: ``python`` (a function in ``code.py``), ``shell`` (a command)
and ``flow`` (a graph in ``graph.json``).
"""
