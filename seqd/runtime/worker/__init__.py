"""The worker process that runs python tasks (``python -m seqd.runtime.worker FD PARENT_PID``).

Kept light on purpose: it imports msgspec and the standard library only, asyncio only
when a task is async, and not even ``logging`` (what it has to say goes over the control
channel or to its stderr pipe, both read by the daemon). Task code gets a
``seqd.runtime.worker.context.Context`` as ``ctx``.
"""
