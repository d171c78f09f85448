"""seqd-mcp: a Model Context Protocol server for seqd, so that AI agents can list, run
and watch the tasks (and call the tools) you expose to them.

``seqctl mcp`` serves MCP over stdin/stdout with the official ``mcp`` SDK and talks to
the daemon over its socket as the user who started it, like any ``seqctl`` command: the
daemon applies that user's role, its validation, confinement and rate limits. What an
agent may see and do is the ``[mcp]`` table of the daemon's config file (``settings``).

Two halves, two entry points: ``seqd_mcp.plugin`` (group ``seqd``) is what the daemon
loads — it only declares the ``[mcp]`` table, so the daemon accepts it — and
``seqd_mcp.command:main`` (group ``seqd.seqctl``) is the ``seqctl mcp`` command. The
SDK is imported by ``seqd_mcp.server`` only, when the command runs.
"""

from __future__ import annotations

__version__ = "0.1.0"
