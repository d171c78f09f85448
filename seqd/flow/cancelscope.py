"""The scope an asyncio task of a running flow works in: its key prefix and why it
was cancelled.

Its own module because every layer of the executor passes scopes down (the driver, the
acting states, the fan-out that makes one per branch or item) and the one that owns a
child run reads the reason from it when it has to cancel that run.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Scope:
    """One asyncio task's share of the flow: its key prefix and why it was cancelled."""

    prefix: str
    parent: Scope | None = None
    why: str | None = None

    def reason(self) -> str | None:
        scope: Scope | None = self
        while scope is not None:
            if scope.why:
                return scope.why
            scope = scope.parent
        return None

    def under(self, prefix: str | None = None) -> Scope:
        """A scope for a sub-task: keys under ``prefix`` (default: the same keys)."""
        return Scope(self.prefix if prefix is None else prefix, self)
