"""Closing a store within a bound: a daemon that stops during a storage outage must
exit in its grace period plus a few seconds, not wait on calls that cannot finish.

What a store has not written when the bound passes was never acknowledged (every
acknowledged write is durable before it is answered), and the claim on the store is
one the process's end drops, so giving up is safe; the next start recovers the rest.
"""

from __future__ import annotations

import asyncio
import logging

from seqd.plugins.storage import StorageBackend

logger = logging.getLogger(__name__)

STOP_SLACK_S = 6.0
"""What a daemon's stop may take beyond ``shutdown_grace_s``: interrupted runs record
it (``seqd.engine.execution.CONCLUDE_S``), then the store closes in what is left."""


async def close_within(storage: StorageBackend, seconds: float) -> bool:
    """Close ``storage``, giving up after ``seconds``; whether it closed cleanly."""
    try:
        async with asyncio.timeout(seconds):
            await storage.close()
    except TimeoutError:
        logger.warning(
            "storage at %s did not close within %gs (unavailable?); leaving it to the "
            "process's end: unfinished runs are recovered at the next start",
            storage.location, seconds,
        )  # fmt: skip
        return False
    except Exception:
        logger.exception("closing storage failed")
        return False
    return True
