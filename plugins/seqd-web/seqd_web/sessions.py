"""Logins: a token from ``seqctl web token`` exchanged for a session cookie.

The cookie holds a random session id, never the token; the session remembers the
token and asks the daemon on every request whether it still acts as the same user,
so revoking or expiring the token ends the login at once. Each session has its own
CSRF token, which every state-changing request must echo (form field ``csrf`` or
header ``X-CSRF-Token``). Sessions live in memory: a restart of the daemon logs
everyone out, which is the safe direction.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass

COOKIE = "seqd_session"


@dataclass
class Session:
    id: str
    uid: int
    token: str
    csrf: str
    expires: float

    def csrf_ok(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(self.csrf, presented)


class Sessions:
    """The dashboard's logins, by session id."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._by_id: dict[str, Session] = {}

    def open(self, uid: int, token: str) -> Session:
        self._expire()
        session = Session(
            id=secrets.token_urlsafe(32),
            uid=uid,
            token=token,
            csrf=secrets.token_urlsafe(32),
            expires=time.monotonic() + self.ttl_s,
        )
        self._by_id[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session of a cookie's value, or None."""
        if not session_id:
            return None
        session = self._by_id.get(session_id)
        if session is None or session.expires <= time.monotonic():
            self._by_id.pop(session_id, None)
            return None
        return session

    def close(self, session_id: str) -> None:
        self._by_id.pop(session_id, None)

    def _expire(self) -> None:
        now = time.monotonic()
        for key in [k for k, s in self._by_id.items() if s.expires <= now]:
            del self._by_id[key]
