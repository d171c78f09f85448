"""The ``fs`` storage backend: the original system's file layout, made safe. The
backend (``backend``) and one module per concern: file primitives, the in-memory
index, logs, key-value state, locks, the writer thread and its blocking operations,
and the scan at open.
"""
