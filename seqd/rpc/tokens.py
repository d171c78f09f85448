"""Wire types of ``tokens.*``: access tokens that let another face of the daemon (the
web dashboard) act as the user who asked for one.

A token is bound to the uid of the peer that created it, so whatever presents it gets
that user's role (looked up afresh on each use), never more. Its own module, as each
area's wire types are; ``protocol.METHODS`` lists the methods.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from seqd.rpc.params import Params

TokenId = Annotated[str, Meta(pattern=r"^[0-9a-f]{12}$", description="a token's id")]
MAX_TOKEN_TTL_S = 30 * 86400
"""The longest a token may live: a forgotten one expires within a month."""


class TokenCreateParams(Params, kw_only=True):
    ttl_s: Annotated[int, Meta(ge=60, le=MAX_TOKEN_TTL_S)] = 12 * 3600
    """How long the token is valid, in seconds (a minute to 30 days; 12 h)."""
    label: Annotated[str, Meta(max_length=80, pattern=r"^[^\x00-\x1f\x7f]*$")] = ""
    """What it is for, shown by ``tokens.list``."""


class TokenIdParams(Params, kw_only=True):
    id: TokenId


class TokenInfo(msgspec.Struct, kw_only=True):
    """A token as stored: never its secret, only a hash of it."""

    id: str
    uid: int
    """The user it acts as."""
    label: str
    created: str
    expires: str


class TokenCreated(TokenInfo, kw_only=True):
    token: str
    """The secret, shown this once: ``seqd_<id>_<secret>``."""


class TokenListResult(msgspec.Struct, kw_only=True):
    tokens: list[TokenInfo]
    """Unexpired tokens, oldest first: the caller's own (an admin's: everyone's)."""
