"""Access tokens: created for a peer, stored hashed, checked, expired and revoked.

A token is ``seqd_<id>_<secret>``: the id finds the record, the secret (32 random
bytes) is compared with its stored SHA-256 in constant time, so the file holds nothing
that would let its reader act as anyone. The records live in ``tokens.json`` in the
state dir (mode 0600, replaced atomically), so they survive a restart of the daemon;
expired ones are dropped whenever the file is written.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time

import msgspec

from seqd.model import timeutil
from seqd.rpc.tokens import TokenCreated, TokenInfo

PREFIX = "seqd_"
FILE = "tokens.json"


class _Stored(msgspec.Struct, kw_only=True):
    id: str
    uid: int
    label: str
    created: float
    expires: float
    sha256: str
    """Hex SHA-256 of the secret part."""

    def info(self) -> TokenInfo:
        return TokenInfo(
            id=self.id,
            uid=self.uid,
            label=self.label,
            created=timeutil.format_ts(self.created),
            expires=timeutil.format_ts(self.expires),
        )


class _File(msgspec.Struct):
    tokens: list[_Stored] = []


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenStore:
    """The daemon's tokens; its methods do file I/O (call them off the loop), and a
    lock keeps two writers from losing each other's change."""

    def __init__(self, state_dir: str) -> None:
        self.path = os.path.join(state_dir, FILE)
        self._lock = threading.Lock()

    def create(self, uid: int, ttl_s: int, label: str) -> TokenCreated:
        now = time.time()
        secret = secrets.token_urlsafe(32)
        record = _Stored(
            id=secrets.token_hex(6),
            uid=uid,
            label=label,
            created=now,
            expires=now + ttl_s,
            sha256=_digest(secret),
        )
        with self._lock:
            records = self._live(now)
            records.append(record)
            self._write(records)
        info = record.info()
        return TokenCreated(**msgspec.structs.asdict(info), token=f"{PREFIX}{record.id}_{secret}")

    def listed(self, uid: int | None) -> list[TokenInfo]:
        """Unexpired tokens of ``uid`` (None: of everyone)."""
        with self._lock:
            records = self._live(time.time())
        return [r.info() for r in records if uid is None or r.uid == uid]

    def revoke(self, token_id: str) -> TokenInfo | None:
        """Remove one token; returns it, or None when there is no such live token."""
        with self._lock:
            records = self._live(time.time())
            found = next((r for r in records if r.id == token_id), None)
            if found is not None:
                self._write([r for r in records if r is not found])
        return None if found is None else found.info()

    def owner(self, token: str) -> int | None:
        """The uid a presented token acts as, or None when it is malformed, unknown,
        expired or revoked."""
        if not token.startswith(PREFIX):
            return None
        token_id, _, secret = token[len(PREFIX) :].partition("_")
        if not secret:
            return None
        with self._lock:
            records = self._live(time.time())
        for record in records:
            if record.id == token_id and hmac.compare_digest(record.sha256, _digest(secret)):
                return record.uid
        return None

    # -- the file --------------------------------------------------------------------

    def _live(self, now: float) -> list[_Stored]:
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return []
        return [r for r in msgspec.json.decode(data, type=_File).tokens if r.expires > now]

    def _write(self, records: list[_Stored]) -> None:
        tmp = f"{self.path}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(msgspec.json.encode(_File(records)))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
