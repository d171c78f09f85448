"""One run's pages: the run (facts, input, output, error, live logs, journal, the tree
of runs under it, and the actions its status allows), its trace waterfall and, for a
flow, its graph.

A reader may see another user's run but not its logs and journal (the daemon's rule,
``access.sees_data``): the page then says so instead of failing as a whole."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from seqd.plugins.local import CallFailed
from seqd_web import render, svg
from seqd_web.guard import Ctx
from seqd_web.render import esc, url

UNFINISHED = ("queued", "running", "suspended")
TREE_DEPTH = 4
TREE_RUNS = 200
"""The tree under a run is drawn this deep and this large at most (links go further)."""


def node_of(run: dict[str, Any]) -> str:
    """The node running the run (or, once it ended, that ran it last), escaped; empty
    while it is queued or suspended: the node it last ran on may not be the one to go
    on with it (any node may claim it)."""
    if run["status"] in ("queued", "suspended"):
        return ""
    return esc(run.get("node") or "")


def actions(run: dict[str, Any], csrf: str) -> str:
    base = url("runs", run["id"])
    out = ""
    if run["status"] in UNFINISHED:
        out += render.action(f"{base}/cancel", "Cancel", csrf, css="danger")
        fields = (
            '<input name="name" placeholder="signal name" required>'
            '<input name="data" placeholder="data (JSON)">'
        )
        out += render.action(f"{base}/signal", "Signal", csrf, fields=fields)
    if run["status"] in ("failed", "cancelled"):
        out += render.action(f"{base}/retry", "Retry", csrf)
    return f'<div class="actions">{out}</div>'


async def _readable(ctx: Ctx, method: str, params: dict[str, Any]) -> Any:
    """The result, or None when the daemon keeps it from this user."""
    try:
        return await ctx.conn.call(method, params)
    except CallFailed as exc:
        if exc.type == "permission_denied":
            return None
        raise


async def tree(ctx: Ctx, run_id: str, depth: int = 0, budget: list[int] | None = None) -> str:
    """The runs under ``run_id`` as nested lists, breadth limited by ``TREE_RUNS``."""
    budget = [TREE_RUNS] if budget is None else budget
    if depth >= TREE_DEPTH or budget[0] <= 0:
        return ""
    found = await ctx.conn.call("runs.list", {"parent_id": run_id, "limit": min(budget[0], 200)})
    items = []
    for child in found["runs"]:
        budget[0] -= 1
        below = await tree(ctx, child["id"], depth + 1, budget)
        items.append(
            f'<li><a href="{url("runs", child["id"])}">{esc(child["id"][:12])}</a> '
            f'<span class="task">{esc(child["task"])}</span> '
            f"{render.status(child['status'])}{below}</li>"
        )
    return f'<ul class="tree">{"".join(items)}</ul>' if items else ""


async def run_page(request: Request, ctx: Ctx) -> Response:
    run = await ctx.conn.call("runs.get", {"id": request.path_params["id"]})
    rid = run["id"]
    logs = await _readable(ctx, "runs.logs", {"id": rid, "limit": 1000})
    steps = await _readable(ctx, "runs.steps", {"id": rid, "limit": 1000})
    facts = [
        ("task", f'<a href="{url("tasks", run["task"])}">{esc(run["task"])}</a>'),
        ("status", f'<span id="run-status">{render.status(run["status"])}</span>'),
        ("created", render.when(run.get("created_at"))),
        ("started", render.when(run.get("started_at"))),
        ("finished", render.when(run.get("finished_at"))),
        ("node", f'<span id="run-node">{node_of(run)}</span>'),
        ("attempt", esc(run.get("attempt"))),
        ("submitted by uid", esc(run.get("submitted_by"))),
    ]
    for key in ("parent_id", "root_id"):
        if run.get(key) and run[key] != rid:
            link = f'<a href="{url("runs", run[key])}">{esc(run[key][:12])}</a>'
            facts.append((key.removesuffix("_id"), link))
    links = f'<p class="links"><a href="{url("runs", rid)}/trace">Trace waterfall</a>'
    if steps and any(s.get("kind") == "state" for s in steps["steps"]):
        links += f' · <a href="{url("runs", rid)}/graph">Flow graph</a>'
    hidden = '<p class="muted">Only shown to its submitter and admins.</p>'
    if logs is None:
        log_html, last_seq = hidden, 0
    else:
        lines = "".join(_log_line(line) for line in logs["lines"])
        log_html = f'<pre id="logs" class="logs">{lines}</pre>'
        last_seq = max((line["seq"] for line in logs["lines"]), default=0)
    journal = hidden
    if steps is not None:
        rows = [
            (esc(s["seq"]), render.when(s["ts"]), esc(s["kind"]), esc(s.get("name", "")),
             esc(s.get("status", "")), esc(s["key"]))
            for s in steps["steps"]
        ]  # fmt: skip
        head = ["seq", "time", "kind", "name", "status", "key"]
        journal = render.table(head, rows) if rows else "<p>no entries</p>"
    body = (
        actions(run, ctx.csrf) + render.definition(facts) + links
        + "<h2>Input</h2>" + render.code(run.get("input"))
        + "<h2>Output</h2>" + render.code(run.get("output"))
        + "<h2>Error</h2>" + render.code(run.get("error"))
        + f"<h2>Logs</h2>{log_html}"
        + f"<h2>Journal</h2>{journal}"
        + f"<h2>Runs under it</h2>{await tree(ctx, rid) or '<p>none</p>'}"
    )  # fmt: skip
    data = {"run": rid, "after": str(last_seq), "status": run["status"]}
    data["topics"] = "run" if logs is None else "run,log"
    return ctx.page(f"Run {rid[:12]}", body, scripts=["run.js"], data=data)


def _log_line(line: dict[str, Any]) -> str:
    return (
        f'<span class="log {esc(line["stream"])}" data-seq="{esc(line["seq"])}">'
        f"{esc(line['ts'][11:23])} {esc(line['text'])}\n</span>"
    )


async def trace_page(request: Request, ctx: Ctx) -> Response:
    trace = await ctx.conn.call("runs.trace", {"id": request.path_params["id"]})
    root = trace["root_id"]
    body = (
        f'<p>trace {esc(trace["trace_id"])} · root <a href="{url("runs", root)}">'
        f"{esc(root[:12])}</a>{' · truncated' * bool(trace.get('truncated'))}</p>"
        + svg.waterfall(trace["spans"])
    )
    return ctx.page("Trace", body)


async def graph_page(request: Request, ctx: Ctx) -> Response:
    run = await ctx.conn.call("runs.get", {"id": request.path_params["id"]})
    steps = await ctx.conn.call("runs.steps", {"id": run["id"], "limit": 1000})
    task = await ctx.conn.call("tasks.get", {"name": run["task"]})
    states = await asyncio.to_thread(flow_states, task)
    body = svg.flow_graph(states, steps["steps"])
    return ctx.page(f"Flow of run {run['id'][:12]}", body)


def flow_states(task: dict[str, Any]) -> dict[str, Any]:
    """The states of a flow task's ``graph.json``, its start state first (the task's
    definition, which every reader of ``tasks.get`` may see); {} for another kind of
    task or an unreadable file (the graph is then drawn from the run's journal)."""
    if task.get("type") != "flow":
        return {}
    try:
        with open(os.path.join(task["path"], "graph.json"), "rb") as f:
            graph = json.load(f)
    except (OSError, ValueError):
        return {}
    states = graph.get("states") if isinstance(graph, dict) else None
    if not isinstance(states, dict):
        return {}
    start = graph.get("start")
    if start in states:
        states = {start: states[start], **states}
    return states
