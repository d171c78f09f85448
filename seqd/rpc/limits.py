"""What socket clients may hold, counted: connections per uid (with slots kept for
admins), requests left pending, bytes buffered — per connection and in total.

Its own module so the counting is one small thing the connections report to and ask,
with the refusals (typed errors naming the limit) made in one place. The numbers come
from ``[limits]`` (``WireLimits``, here because the config layer sits above this
one); docs/security.md explains each.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated

import msgspec
from msgspec import Meta

from seqd.errors import InvalidRequest, RateLimited
from seqd.rpc.protocol import DEFAULT_MAX_LINE_BYTES


class WireLimits(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The ``[limits]`` keys about socket clients (``Limits`` in the config inherits
    them, so they are plain ``[limits]`` keys)."""

    max_line_bytes: Annotated[int, Meta(ge=1024)] = DEFAULT_MAX_LINE_BYTES
    """Longest JSON-RPC line accepted; longer gets an error and the connection closes."""
    max_connections: Annotated[int, Meta(ge=1)] = 4096
    """Open client connections, all users together."""
    admin_reserved_connections: Annotated[int, Meta(ge=0)] = 64
    """Of ``max_connections``, how many only admins may use: a flood by others never
    locks an admin out."""
    max_connections_per_uid: Annotated[int, Meta(ge=1)] = 256
    """Open connections of one non-admin uid."""
    idle_timeout_s: Annotated[float, Meta(ge=0)] = 600.0
    """A connection that holds nothing (no request pending, no subscription) and sends
    no complete request for this long is closed; 0: never."""
    max_pending_per_connection: Annotated[int, Meta(ge=1)] = 1024
    """Requests one connection may have waiting at once (``runs.wait``, waiting
    submits, ...); one more is refused with ``rate_limited``."""
    max_pending_total: Annotated[int, Meta(ge=1)] = 65536
    """The same, all connections together."""
    max_buffered_bytes_total: Annotated[int, Meta(ge=1024)] = 128 * 1024 * 1024
    """Bytes of requests read but not yet answered (partial lines, lines queued behind
    a waiting one), all connections together; the connection that would go over it
    gets an error and is closed. Eight lines of the longest size: legitimate lines are
    far shorter (a run's input is at most ``max_input_bytes``)."""

    def __post_init__(self) -> None:
        if self.admin_reserved_connections >= self.max_connections:
            raise ValueError(
                f"limits.admin_reserved_connections: {self.admin_reserved_connections} must "
                f"be less than limits.max_connections ({self.max_connections}); lower it "
                "with max_connections"
            )


class Budget:
    """The counters every connection shares. Admission is decided at connect time;
    pending requests and buffered bytes are charged and released as they come and go."""

    def __init__(self, bounds: WireLimits) -> None:
        self.bounds = bounds
        self.open = 0
        self.per_uid: Counter[int] = Counter()
        self.pending = 0
        self.buffered = 0

    # -- connections ------------------------------------------------------------------

    def admit(self, uid: int, admin: bool) -> InvalidRequest | None:
        """Count a new connection of ``uid``, or say why it is refused. Admins may use
        every slot; others all but the reserved ones, and at most their per-uid share."""
        b = self.bounds
        if admin:
            if self.open >= b.max_connections:
                return _too_many("total", b.max_connections)
        else:
            if self.open >= b.max_connections - b.admin_reserved_connections:
                return _too_many("total", b.max_connections - b.admin_reserved_connections)
            if self.per_uid[uid] >= b.max_connections_per_uid:
                return _too_many("uid", b.max_connections_per_uid, uid)
        self.open += 1
        self.per_uid[uid] += 1
        return None

    def leave(self, uid: int) -> None:
        self.open -= 1
        self.per_uid[uid] -= 1
        if self.per_uid[uid] <= 0:
            del self.per_uid[uid]

    # -- pending requests -------------------------------------------------------------

    def take_pending(self, held: int) -> RateLimited | None:
        """Charge one more waiting request to a connection holding ``held`` of them,
        or say which limit refuses it."""
        b = self.bounds
        if held >= b.max_pending_per_connection:
            return _too_busy("connection", b.max_pending_per_connection)
        if self.pending >= b.max_pending_total:
            return _too_busy("total", b.max_pending_total)
        self.pending += 1
        return None

    def give_pending(self) -> None:
        self.pending -= 1

    # -- buffered bytes ---------------------------------------------------------------

    def rebuffer(self, before: int, after: int) -> bool:
        """A connection's buffered bytes went from ``before`` to ``after``: False when
        that growth would take all connections together over the limit (then nothing
        is charged, and the connection is to be refused)."""
        grown = self.buffered - before + after
        if after > before and grown > self.bounds.max_buffered_bytes_total:
            return False
        self.buffered = grown
        return True


def _too_many(scope: str, limit: int, uid: int | None = None) -> InvalidRequest:
    whose = f" for uid {uid}" if uid is not None else ""
    details: dict[str, object] = {"limit": limit, "scope": scope}
    if uid is not None:
        details["uid"] = uid
    return InvalidRequest(f"too many connections{whose}", details)


def _too_busy(scope: str, limit: int) -> RateLimited:
    where = "on this connection" if scope == "connection" else "in the daemon"
    return RateLimited(
        f"too many requests waiting {where} (limit {limit}); wait for some to finish",
        {"limit": limit, "scope": scope},
    )
