"""The tool interface: named callables with schemas, from plugins.

Tools are called from task code, flow states and ``seqctl tools call`` (the tool
registry and its API build on this contract).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Tool(Protocol):
    name: str
    """Dotted name, e.g. ``http.request``."""
    description: str
    params_schema: dict[str, Any]
    """JSON Schema of the parameters object."""
    result_schema: dict[str, Any]

    async def call(self, params: dict[str, Any]) -> Any:
        """Run with already validated ``params``; return a JSON-serialisable result."""
