"""Wire types of ``tools.*``: what a tool is, and calling one.

Its own module, as each area's wire types are; ``protocol.METHODS`` lists the methods.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta

from seqd.model.roles import Role
from seqd.model.tasks import Problem
from seqd.rpc.params import (
    Params,
)
from seqd.rpc.status import (
    BucketInfo,
)

ToolName = Annotated[
    str,
    Meta(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,63}(\.[a-z0-9][a-z0-9_-]{0,63}){1,3}$",
        description="a dotted tool name",
    ),
]


class ToolInfo(msgspec.Struct, kw_only=True):
    name: str
    description: str
    source: str
    """``plugin`` or ``folder``."""
    plugin: str | None = None
    """The plugin that registered it (plugin tools)."""
    path: str | None = None
    """Its folder (folder tools)."""
    version: str | None = None
    valid: bool = True
    problems: list[Problem] = []
    params_schema: dict[str, Any] | None = None
    result_schema: dict[str, Any] | None = None
    rate: BucketInfo | None = None
    admin_only: bool = False
    """Only admins may call it (``role`` is ``admin``)."""
    role: Role = "operator"
    """The least role that may call it, over RPC and from runs (``tools.roles``)."""


class ToolListResult(msgspec.Struct, kw_only=True):
    tools: list[ToolInfo]


class ToolNameParams(Params, kw_only=True):
    name: ToolName


class ToolCallParams(Params, kw_only=True):
    name: ToolName
    params: dict[str, Any] = {}


class ToolCallResult(msgspec.Struct, kw_only=True):
    tool: str
    result: Any
    duration_s: float
