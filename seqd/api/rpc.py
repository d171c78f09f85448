"""``rpc.discover``: the OpenRPC document, built once per daemon."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from seqd.rpc.dispatch import Caller, Handler
from seqd.rpc.openrpc import document
from seqd.rpc.params import NoParams

if TYPE_CHECKING:
    from seqd.api.context import Daemon


def handlers(app: Daemon) -> dict[str, Handler]:
    doc = document()

    def discover(params: NoParams, caller: Caller) -> dict[str, Any]:
        return doc

    return {"rpc.discover": discover}
