"""Token buckets: per tool (config) and per RPC client, keyed by the peer's uid.

A bucket holds up to ``burst`` tokens and refills at ``rate_per_s``; each call takes
one. An empty bucket answers how long until the next token (``retry_after``), which is
what the ``rate_limited`` error carries. Time is ``time.monotonic``, so a clock step
cannot refill or starve a bucket.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import msgspec

from seqd.errors import RateLimited


class BucketState(msgspec.Struct, kw_only=True):
    """A bucket as ``daemon.status`` shows it."""

    rate_per_s: float
    burst: int
    tokens: float
    limited: int
    """Calls refused so far."""


class TokenBucket:
    def __init__(
        self, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate_per_s must be > 0 and burst >= 1")
        self.rate = rate_per_s
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()
        self.limited = 0

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def take(self) -> float:
        """Take one token: 0.0 if there was one, else the seconds until there is."""
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        self.limited += 1
        return (1.0 - self._tokens) / self.rate

    def state(self) -> BucketState:
        self._refill()
        return BucketState(
            rate_per_s=self.rate,
            burst=self.burst,
            tokens=round(self._tokens, 3),
            limited=self.limited,
        )


class KeyedBuckets:
    """One bucket per key (a uid), made on first use; full buckets that have not been
    used for a while are forgotten so that many short-lived clients cost nothing."""

    MAX_KEYS = 10_000

    def __init__(
        self, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate_per_s
        self.burst = burst
        self._clock = clock
        self._buckets: dict[int, TokenBucket] = {}

    def check(self, key: int, what: str) -> None:
        """Take a token for ``key`` or raise ``RateLimited`` with ``retry_after``."""
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.MAX_KEYS:
                self._prune()
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, self._clock)
        wait = bucket.take()
        if wait:
            raise RateLimited(
                f"{what}: over the limit of {self.rate:g} calls/s (burst {self.burst}); "
                f"retry after {wait:.3f}s",
                {"retry_after": round(wait, 3), "limit_per_s": self.rate, "burst": self.burst},
            )

    def _prune(self) -> None:
        for key in [k for k, b in self._buckets.items() if b.state().tokens >= b.burst]:
            del self._buckets[key]

    def states(self) -> dict[str, BucketState]:
        return {str(k): b.state() for k, b in sorted(self._buckets.items())}
