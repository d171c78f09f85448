"""The runs list (filtered, live) and the actions on a run (cancel, retry, signal);
one run's own pages are in ``run``."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from seqd_web import render, run
from seqd_web.guard import Ctx, guarded
from seqd_web.render import esc, url

STATUSES = ("queued", "running", "suspended", "succeeded", "failed", "cancelled")
FILTERS = ("task", "status", "schedule")


def routes() -> list[Route]:
    return [
        Route("/runs", guarded(runs_page)),
        Route("/runs/table", guarded(runs_table)),
        Route("/runs/{id}", guarded(run.run_page)),
        Route("/runs/{id}/trace", guarded(run.trace_page)),
        Route("/runs/{id}/graph", guarded(run.graph_page)),
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
            run.node_of(r),
            esc(r.get("submitted_by")),
        )
        for r in found["runs"]
    ]
    head = ["run", "task", "status", "created", "finished", "node", "uid"]
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


async def cancel(request: Request, ctx: Ctx) -> Response:
    done = await ctx.conn.call("runs.cancel", {"id": request.path_params["id"]})
    return RedirectResponse(url("runs", done["id"]), status_code=303)


async def retry(request: Request, ctx: Ctx) -> Response:
    new = await ctx.conn.call("runs.retry", {"id": request.path_params["id"]})
    return RedirectResponse(url("runs", new["id"]), status_code=303)


async def signal(request: Request, ctx: Ctx) -> Response:
    form = await request.form()
    raw = str(form.get("data") or "").strip()
    try:
        data = json.loads(raw) if raw else None
    except ValueError:
        data = raw  # plain text is sent as a string
    params = {"id": request.path_params["id"], "name": str(form.get("name", "")), "data": data}
    signalled = await ctx.conn.call("runs.signal", params)
    return RedirectResponse(url("runs", signalled["id"]), status_code=303)
