"""The daemon side of python task execution: a pool of worker processes.

``pool.WorkerPool`` hands out ``process.WorkerProcess`` objects (one run at a time
each), whose ``ctx.call`` requests ``calls`` serves and whose fd 1 and 2 ``pipes``
reads; ``messages`` (the control-channel frames) and ``ops`` (the durable operations
on the wire) are shared with ``seqd.runtime.worker``. Nothing is imported here so that
the worker can import ``messages`` and ``ops`` without asyncio.
"""
