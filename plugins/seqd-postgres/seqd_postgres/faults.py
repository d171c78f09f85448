"""What a PostgreSQL failure means to the daemon.

Everything that says "the store cannot be reached right now" (refused or lost
connections, a server shutting down, a full pool, a statement or client time-out, a
read-only standby) becomes ``StorageUnavailable``, which the engine rides out. Values
PostgreSQL cannot hold become ``ValidationFailed``. Anything else is a bug and is left
to propagate.
"""

from __future__ import annotations

import logging
import select

import psycopg
from psycopg import AsyncConnection
from psycopg import errors as pgerrors
from psycopg.rows import TupleRow
from psycopg_pool import PoolClosed, PoolTimeout, TooManyRequests

from seqd.errors import SeqdError, StorageUnavailable, ValidationFailed
from seqd.plugins.storage_kit.errors import not_open, unavailable

logger = logging.getLogger(__name__)

LABEL = "PostgreSQL storage"
"""How messages name this store."""
_LOST = ("08", "57P")
"""SQLSTATE prefixes of a lost connection: connection exceptions, operator
intervention (admin shutdown, crash shutdown, cannot connect now)."""


def one_line(exc: BaseException) -> str:
    """libpq messages span lines (with hints); logs and clients want one."""
    return " ".join(str(exc).split()) or type(exc).__name__


def connection_lost(exc: psycopg.Error) -> bool:
    """True when a connection died under a statement (rather than the pool having
    none to give, or the statement failing): a read can be tried again on another."""
    if isinstance(exc, PoolClosed | PoolTimeout | TooManyRequests | pgerrors.PipelineAborted):
        return False
    if not isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return False
    state = exc.sqlstate
    return state is None or state.startswith(_LOST)


def translate(
    exc: BaseException, location: str, last_error: str | None = None, opening: bool = False
) -> SeqdError | None:
    """The SeqdError ``exc`` stands for, or None when it is not a storage condition.

    ``last_error`` is the pool's last failed connection attempt: the likely reason a
    call got no connection. ``opening`` words the message for a failed ``open()``.
    """
    details: dict[str, object] = {}
    if isinstance(exc, psycopg.DataError):
        return ValidationFailed(f"PostgreSQL cannot store this value: {one_line(exc)}")
    if isinstance(exc, PoolClosed):
        return not_open(LABEL, location, True, {"location": location})
    if isinstance(exc, PoolTimeout | TooManyRequests):
        if last_error:
            why = f"cannot connect: {last_error}"
        else:
            why = "no connection could be had in time (every pooled connection is busy)"
    elif isinstance(exc, TimeoutError):
        why = "no answer in time"
    elif isinstance(
        exc, psycopg.OperationalError | psycopg.InterfaceError | pgerrors.ReadOnlySqlTransaction
    ):
        if isinstance(exc, psycopg.Error) and exc.sqlstate:
            details["sqlstate"] = exc.sqlstate
        why = one_line(exc)
    else:
        return None
    if opening:
        return StorageUnavailable(
            f"cannot open PostgreSQL at {location}: {why}", {"location": location, **details}
        )
    return unavailable("PostgreSQL", location, why, **details)


def is_stale(conn: AsyncConnection[TupleRow]) -> bool:
    """Whether an idle pooled connection is already dead, without a round trip.

    An idle connection has nothing to read unless the server spoke first, and after a
    restart that is its farewell (``terminating connection...``) followed by EOF. A
    readable socket therefore means "do not use", which spares the first call after a
    server restart from failing on a connection that died while idle.
    """
    if conn.closed or conn.broken:
        return True
    try:
        fd = conn.fileno()
    except psycopg.Error:
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def never_sent(error: BaseException) -> bool:
    """Whether a failed write (a ``StorageUnavailable`` from the backend) surely did
    nothing: refused before it was sent (the backend is closed, the store held by
    another daemon: no cause), or no connection was had in time. Any other failure
    leaves its outcome unknown (a commit may have happened unanswered)."""
    cause = error.__cause__
    return cause is None or isinstance(cause, PoolTimeout | TooManyRequests | PoolClosed)
