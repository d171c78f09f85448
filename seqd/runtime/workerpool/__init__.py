"""The daemon side of python task execution: a pool of worker processes.

``pool.WorkerPool`` hands out ``process.WorkerProcess`` objects (one run at a time
each); ``messages`` is the control-channel format shared with ``seqd.runtime.worker``. Nothing
is imported here so that the worker can import ``messages`` without asyncio.
"""
