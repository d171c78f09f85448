"""Runs and their logs as MCP resources: ``seqd://runs/{id}`` (the run, JSON) and
``seqd://runs/{id}/logs`` (its log, text), readable for the runs an agent may see.

``resources/list`` offers the newest runs; the two templates name any other. Reading
goes through the gateway, so the exposure and the daemon's rules are the tools' own.
"""

from __future__ import annotations

import json
import re

from mcp import types

from seqd_mcp import args as a
from seqd_mcp.gateway import Gateway, Refused, plain

RUN_URI = "seqd://runs/{id}"
LOGS_URI = "seqd://runs/{id}/logs"
_URI = re.compile(r"^seqd://runs/(?P<id>[^/]{1,128})(?P<logs>/logs)?$")
LISTED = 20
"""Runs ``resources/list`` offers (the newest the agent may see)."""
LOG_LINES = 10_000
"""Most log lines one read returns (the newest are dropped past it; ``get_logs`` pages)."""
PAGE = 1000

TEMPLATES = [
    types.ResourceTemplate(
        uri_template=RUN_URI,
        name="run",
        description="A seqd run: task, status, input, output, error, times (JSON). "
        "{id}: its id, a unique prefix (4+ hex digits), last or last:TASK.",
        mime_type="application/json",
    ),
    types.ResourceTemplate(
        uri_template=LOGS_URI,
        name="run-logs",
        description="A seqd run's log, one line each: time, stream, text.",
        mime_type="text/plain",
    ),
]


async def listed(g: Gateway) -> list[types.Resource]:
    """The newest runs the agent may see."""
    page = await g.list_runs(a.ListRuns(limit=LISTED))
    return [
        types.Resource(
            uri=RUN_URI.format(id=run.id),
            name=f"run {run.id}",
            title=f"{run.task} ({run.status})",
            mime_type="application/json",
        )
        for run in page.runs
    ]


async def read(g: Gateway, uri: str) -> tuple[str, str]:
    """The text and MIME type of ``uri``; ``Refused`` when it names no readable run."""
    match = _URI.match(uri)
    if match is None:
        raise Refused(
            "invalid_params",
            f"{uri!r} is not a seqd resource (seqd://runs/ID or seqd://runs/ID/logs)",
            {"field": "uri"},
        )
    ref = a.decode({"id": match["id"]}, a.RunArgs).id
    run = await g.run(ref)
    if not match["logs"]:
        return json.dumps(plain(run), indent=1), "application/json"
    lines: list[str] = []
    after = 0
    while len(lines) < LOG_LINES:
        page = await g.client.logs(run.id, after=after, limit=PAGE)
        lines += [f"{ln.ts} {ln.stream} {ln.text}" for ln in page.lines]
        if not page.lines or page.next == after:
            break
        after = page.next
    return "".join(line + "\n" for line in lines[:LOG_LINES]), "text/plain"
