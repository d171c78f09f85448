"""Roles: what a caller of the daemon may do, from least to most.

``none`` may do nothing; a ``reader`` sees tasks, tools and runs (other users' runs
without their inputs, outputs and logs); an ``operator`` also submits runs, calls tools
and manages its own runs; an ``admin`` does everything. Each RPC method names the least
role it needs (``seqd.rpc.protocol.METHODS``), and so does each tool (``[tools]
roles``). Which role a peer has is decided by ``seqd.access`` from ``[access]``.

Its own module because the wire contract, the config and the access decisions all
speak of roles, and they must agree on the names and their order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

Role = Literal["none", "reader", "operator", "admin"]
ROLES: tuple[Role, ...] = ("none", "reader", "operator", "admin")
_RANK = {role: rank for rank, role in enumerate(ROLES)}


def at_least(role: Role, needed: Role) -> bool:
    """Whether ``role`` includes everything ``needed`` may do."""
    return _RANK[role] >= _RANK[needed]


def highest(roles: Iterable[Role], default: Role = "none") -> Role:
    """The most capable of ``roles`` (``default`` when there are none)."""
    best = None
    for role in roles:
        if best is None or _RANK[role] > _RANK[best]:
            best = role
    return default if best is None else best
