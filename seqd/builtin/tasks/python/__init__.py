"""The ``python`` task type (``tasktype``) and the daemon's side of its durable
``ctx`` operations (``durable``); the worker processes are ``seqd.runtime.workerpool``.
"""
