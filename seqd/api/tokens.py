"""``tokens.*``: a peer asks for a token that acts as itself (``seqctl web token``),
lists and revokes its own; an admin sees and revokes everyone's.

A peer with no role gets no token: a token can only carry what its creator could do
on the socket, and its role is looked up again each time it is used."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from seqd.errors import NotFound
from seqd.rpc.dispatch import Caller, Handler
from seqd.rpc.tokens import (
    TokenCreated,
    TokenCreateParams,
    TokenIdParams,
    TokenInfo,
    TokenListResult,
)

if TYPE_CHECKING:
    from seqd.api.context import Daemon


def handlers(app: Daemon) -> dict[str, Handler]:
    store = app.tokens

    async def create(params: TokenCreateParams, caller: Caller) -> TokenCreated:
        return await asyncio.to_thread(store.create, caller.uid, params.ttl_s, params.label)

    async def list_(params: object, caller: Caller) -> TokenListResult:
        mine = None if caller.admin else caller.uid
        return TokenListResult(tokens=await asyncio.to_thread(store.listed, mine))

    async def revoke(params: TokenIdParams, caller: Caller) -> TokenInfo:
        mine = None if caller.admin else caller.uid
        visible = await asyncio.to_thread(store.listed, mine)
        if not any(t.id == params.id for t in visible):  # another's is "not found" too
            raise NotFound(f"id: no token {params.id!r} of yours", {"field": "id"})
        revoked = await asyncio.to_thread(store.revoke, params.id)
        if revoked is None:
            raise NotFound(f"id: no token {params.id!r} of yours", {"field": "id"})
        return revoked

    return {"tokens.create": create, "tokens.list": list_, "tokens.revoke": revoke}
