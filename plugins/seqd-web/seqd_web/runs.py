"""Run pages: the list (filtered, live), one run (input, output, error, live logs,
journal, children) and the actions on it (cancel, retry, signal)."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from seqd_web import render, svg
from seqd_web.guard import Ctx, guarded
from seqd_web.render import esc, url

STATUSES = ("queued", "running", "waiting", "succeeded", "failed", "cancelled")
FILTERS = ("task", "status", "schedule")


def routes() -> list[Route]:
    return [
        Route("/runs", guarded(runs_page)),
        Route("/runs/table", guarded(runs_table)),
        Route("/runs/{id}", guarded(run_page)),
        Route("/runs/{id}/trace", guarded(trace_page)),
        Route("/runs/{id}/graph", guarded(graph_page)),
        Route("/runs/{id}/cancel", guarded(cancel), methods=["POST"]),
        Route("/runs/{id}/retry", guarded(retry), methods=["POST"]),
        Route("/runs/{id}/signal", guarded(signal), methods=["POST"]),
    ]


def _filters(request: Request) -> dict[str, str]:
    return {k: request.query_params[k] for k in FILTERS if request.query_params.get(k)}


async def _rows(ctx: Ctx, filters: dict[str, str]) -> str:
    found = await ctx.conn.call("runs.list", {**filters, "limit": 100})
    rows = [
        (
            f'<a href="{url("runs", r["id"])}">{esc(r["id"][:12])}</a>',
            esc(r["task"]),
            render.status(r["status"]),
            render.when(r.get("created_at")),
            render.when(r.get("finished_at")),
            esc(r.get("submitted_by")),
        )
        for r in found["runs"]
    ]
    head = ["run", "task", "status", "created", "finished", "uid"]
    return render.table(head, rows, body_id="runs")


async def runs_page(request: Request, ctx: Ctx) -> Response:
    filters = _filters(request)
    options = "".join(
        f"<option{' selected' * (s == filters.get('status'))}>{s}</option>" for s in STATUSES
    )
    form = (
        '<form method="get" action="/runs" class="filters">'
        f'<label>Task <input name="task" value="{esc(filters.get("task", ""))}"></label>'
        f'<label>Status <select name="status"><option value="">any</option>{options}</select>'
        '</label><label>Schedule <input name="schedule" '
        f'value="{esc(filters.get("schedule", ""))}"></label><button>Filter</button></form>'
    )  # fmt: skip
    body = form + f'<div id="runs-table">{await _rows(ctx, filters)}</div>'
    data = {"table": "/runs/table?" + urlencode(filters)}
    return ctx.page("Runs", body, scripts=["runs.js"], data=data)


async def runs_table(request: Request, ctx: Ctx) -> Response:
    """The table alone, which runs.js fetches again when a run event arrives."""
    return HTMLResponse(await _rows(ctx, _filters(request)))


def _actions(run: dict[str, Any], csrf: str) -> str:
    base = url("runs", run["id"])
    out = ""
    if run["status"] in ("queued", "running", "waiting"):
        out += render.action(f"{base}/cancel", "Cancel", csrf, css="danger")
        fields = (
            '<input name="name" placeholder="signal name" required>'
            '<input name="data" placeholder="data (JSON)">'
        )
        out += render.action(f"{base}/signal", "Signal", csrf, fields=fields)
    if run["status"] in ("failed", "cancelled"):
        out += render.action(f"{base}/retry", "Retry", csrf)
    return f'<div class="actions">{out}</div>'


async def run_page(request: Request, ctx: Ctx) -> Response:
    run = await ctx.conn.call("runs.get", {"id": request.path_params["id"]})
    rid = run["id"]
    logs = await ctx.conn.call("runs.logs", {"id": rid, "limit": 1000})
    steps = await ctx.conn.call("runs.steps", {"id": rid, "limit": 500})
    children = await ctx.conn.call("runs.list", {"parent_id": rid, "limit": 200})
    facts = [
        ("task", f'<a href="{url("tasks", run["task"])}">{esc(run["task"])}</a>'),
        ("status", f'<span id="run-status">{render.status(run["status"])}</span>'),
        ("created", render.when(run.get("created_at"))),
        ("started", render.when(run.get("started_at"))),
        ("finished", render.when(run.get("finished_at"))),
        ("attempt", esc(run.get("attempt"))),
        ("submitted by uid", esc(run.get("submitted_by"))),
    ]
    if run.get("parent_id"):
        facts.append(
            ("parent", f'<a href="{url("runs", run["parent_id"])}">{esc(run["parent_id"])}</a>')
        )
    links = (
        f'<p class="links"><a href="{url("runs", rid)}/trace">Trace waterfall</a>'
        f' · <a href="{url("runs", rid)}/graph">Flow graph</a></p>'
    )
    last_seq = max((line["seq"] for line in logs["lines"]), default=0)
    log_html = "".join(_log_line(line) for line in logs["lines"])
    step_rows = [
        (esc(s["seq"]), render.when(s["ts"]), esc(s["kind"]), esc(s.get("name", "")), esc(s["key"]))
        for s in steps["steps"]
    ]
    child_rows = [
        (f'<a href="{url("runs", c["id"])}">{esc(c["id"][:12])}</a>', esc(c["task"]),
         render.status(c["status"]))
        for c in children["runs"]
    ]  # fmt: skip
    body = (
        _actions(run, ctx.csrf)
        + render.definition(facts)
        + links
        + "<h2>Input</h2>" + render.code(run.get("input"))
        + "<h2>Output</h2>" + f'<div id="run-output">{render.code(run.get("output"))}</div>'
        + "<h2>Error</h2>" + f'<div id="run-error">{render.code(run.get("error"))}</div>'
        + f'<h2>Logs</h2><pre id="logs" class="logs">{log_html}</pre>'
        + "<h2>Journal</h2>" + render.table(["seq", "time", "kind", "name", "key"], step_rows)
        + "<h2>Children</h2>" + render.table(["run", "task", "status"], child_rows)
    )  # fmt: skip
    data = {"run": rid, "after": str(last_seq), "status": run["status"]}
    return ctx.page(f"Run {rid[:12]}", body, scripts=["run.js"], data=data)


def _log_line(line: dict[str, Any]) -> str:
    return (
        f'<span class="log {esc(line["stream"])}" data-seq="{esc(line["seq"])}">'
        f"{esc(line['ts'][11:23])} {esc(line['text'])}\n</span>"
    )


async def trace_page(request: Request, ctx: Ctx) -> Response:
    trace = await ctx.conn.call("runs.trace", {"id": request.path_params["id"]})
    body = (
        f'<p>trace {esc(trace["trace_id"])} · root <a href="{url("runs", trace["root_id"])}">'
        f"{esc(trace['root_id'][:12])}</a>{' · truncated' * bool(trace.get('truncated'))}</p>"
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
    """The states of a flow task's ``graph.json`` (its definition, which every reader
    of ``tasks.get`` may see); {} for another kind of task or an unreadable file (the
    graph is then drawn from the run's journal alone)."""
    if task.get("type") != "flow":
        return {}
    try:
        with open(os.path.join(task["path"], "graph.json"), "rb") as f:
            graph = json.load(f)
    except (OSError, ValueError):
        return {}
    states = graph.get("states") if isinstance(graph, dict) else None
    return states if isinstance(states, dict) else {}


async def cancel(request: Request, ctx: Ctx) -> Response:
    run = await ctx.conn.call("runs.cancel", {"id": request.path_params["id"]})
    return RedirectResponse(url("runs", run["id"]), status_code=303)


async def retry(request: Request, ctx: Ctx) -> Response:
    run = await ctx.conn.call("runs.retry", {"id": request.path_params["id"]})
    return RedirectResponse(url("runs", run["id"]), status_code=303)


async def signal(request: Request, ctx: Ctx) -> Response:
    form = await request.form()
    raw = str(form.get("data") or "").strip()
    try:
        data = json.loads(raw) if raw else None
    except ValueError:
        data = raw  # plain text is sent as a string
    params = {"id": request.path_params["id"], "name": str(form.get("name", "")), "data": data}
    run = await ctx.conn.call("runs.signal", params)
    return RedirectResponse(url("runs", run["id"]), status_code=303)
