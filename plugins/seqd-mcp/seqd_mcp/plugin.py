"""The daemon's side of seqd-mcp: it declares the ``[mcp]`` table of the config file.

The daemon checks every top-level table against the plugins that declared one, so
without this a config file with ``[mcp]`` would stop it (exit 2). Kept apart from the
rest of the package: the daemon imports this module, never the MCP SDK.
"""

from __future__ import annotations

from collections.abc import Callable

from seqd import hookimpl
from seqd.plugins.sections import ConfigSection
from seqd_mcp.settings import SECTION, McpSettings


@hookimpl
def seqd_register_config_sections(register: Callable[[ConfigSection], None]) -> None:
    register(ConfigSection(SECTION, McpSettings))
