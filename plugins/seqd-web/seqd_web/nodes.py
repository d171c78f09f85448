"""The Nodes page: every daemon sharing this one's store (``nodes.list``), with its
lease, and this daemon's own figures (``daemon.status``). The table is fetched again
every few seconds by nodes.js, so heartbeats, held runs and dead nodes show as they
happen (a node's heartbeat is no event on this daemon's bus)."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from seqd.model import timeutil
from seqd_web import render
from seqd_web.guard import Ctx, guarded
from seqd_web.render import esc

REFRESH_S = 3
"""How often the page fetches the table again."""
HEAD = ["node", "host", "pid", "version", "started", "heartbeat", "runs held", "workers", "state"]


def routes() -> list[Route]:
    return [Route("/nodes", guarded(nodes_page)), Route("/nodes/table", guarded(nodes_table))]


def age(ts: str, now: float) -> str:
    """How long ago ``ts`` was, in words short enough for a table cell."""
    try:
        seconds = max(0.0, now - timeutil.parse_ts(ts))
    except ValueError:
        return esc(ts)
    if seconds < 120:
        text = f"{seconds:.0f} s ago"
    elif seconds < 7200:
        text = f"{seconds / 60:.0f} min ago"
    else:
        text = f"{seconds / 3600:.1f} h ago"
    return f'<time datetime="{esc(ts)}" title="{esc(ts)}">{text}</time>'


def summary(found: dict[str, Any]) -> str:
    """One line: a single node, or how many of the cluster's nodes are alive."""
    if not found["shared"]:
        return "single node (SQLite/file store): no other daemon shares this store"
    alive = sum(1 for n in found["nodes"] if n["alive"])
    dead = len(found["nodes"]) - alive
    text = f"cluster on a shared store: {alive} node{'s' * (alive != 1)} alive"
    return text + (f", {dead} dead (their runs are being taken over)" if dead else "")


def node_rows(found: dict[str, Any], now: float) -> str:
    """The summary and the table of nodes, this one marked (row class ``this``); each
    row carries ``data-node`` (the node id)."""
    rows, attrs = [], []
    for n in found["nodes"]:
        info = n["info"]
        mine = info["id"] == found["node_id"]
        ident = esc(info["id"]) + (' <span class="this-node">this node</span>' if mine else "")
        rows.append((
            ident, esc(info["host"]), esc(info["pid"]), esc(info["version"]),
            render.when(info["started_at"]), age(n["heartbeat_at"], now), esc(n["runs_held"]),
            esc(info["workers"]), render.status("alive" if n["alive"] else "dead"),
        ))  # fmt: skip
        attrs.append(f' data-node="{esc(info["id"])}"' + (' class="this"' if mine else ""))
    table = render.table(HEAD, rows, body_id="nodes", row_attrs=attrs)
    return f'<p id="nodes-summary">{esc(summary(found))}</p>{table}'


async def _table(ctx: Ctx) -> str:
    found = await ctx.conn.call("nodes.list", {})
    return node_rows(found, time.time())


async def nodes_page(request: Request, ctx: Ctx) -> Response:
    st = await ctx.conn.call("daemon.status", {})
    storage, w = st["storage"], st["workers"]
    facts = [
        ("storage", esc(storage.get("name") if isinstance(storage, dict) else storage)),
        (
            "runs (its own counts)",
            esc(", ".join(f"{k} {v}" for k, v in sorted(st["runs"].items())) or "-"),
        ),
        ("workers", esc(f"{w['busy']} busy of {w['max']}, {w['queued']} queued")),
        ("tasks", esc(st["tasks"])),
        ("connections", esc(st["connections"])),
        ("memory (rss)", f"{st['rss_bytes'] / 1e6:.1f} MB"),
        ("uptime", f"{st['uptime_s']:.0f} s"),
    ]
    body = (
        f'<div id="nodes-table">{await _table(ctx)}</div>'
        f"<h2>This node ({esc(st['node'])})</h2>" + render.definition(facts)
    )
    data = {"table": "/nodes/table", "refresh": str(REFRESH_S)}
    return ctx.page("Nodes", body, scripts=["nodes.js"], data=data)


async def nodes_table(request: Request, ctx: Ctx) -> Response:
    """The table alone, which nodes.js fetches every ``REFRESH_S`` seconds."""
    return HTMLResponse(await _table(ctx))
