"""The daemon-wide pages: schedules (pause, resume), metrics charts, and alerts firing
and past (nodes have a module of their own: ``nodes``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from seqd_web import render
from seqd_web.guard import Ctx, guarded
from seqd_web.render import esc, url


def routes() -> list[Route]:
    return [
        Route("/schedules", guarded(schedules_page)),
        Route("/schedules/{name}/pause", guarded(pause), methods=["POST"]),
        Route("/schedules/{name}/resume", guarded(resume), methods=["POST"]),
        Route("/metrics", guarded(metrics_page)),
        Route("/alerts", guarded(alerts_page)),
    ]


def _when(s: dict[str, object]) -> str:
    if s.get("cron"):
        return f"cron {s['cron']} ({s.get('zone')})"
    if s.get("every"):
        return f"every {s['every']}"
    return f"at {s.get('at')}"


async def schedules_page(request: Request, ctx: Ctx) -> Response:
    found = await ctx.conn.call("schedules.list", {"limit": 1000})
    rows = []
    for s in found["schedules"]:
        base = url("schedules", s["name"])
        toggle = (
            render.action(f"{base}/resume", "Resume", ctx.csrf)
            if s["state"] == "paused"
            else render.action(f"{base}/pause", "Pause", ctx.csrf)
        )
        last = s.get("last_run")
        rows.append(
            (
                esc(s["name"]),
                f'<a href="{url("tasks", s["task"])}">{esc(s["task"])}</a>',
                esc(_when(s)),
                render.status(s["state"]),
                ", ".join(render.when(t) for t in s.get("next_fires") or []) or "-",
                f'<a href="{url("runs", last["id"])}">{render.status(last["status"])}</a>'
                if last
                else "-",
                f'<a href="/runs?schedule={esc(s["name"])}">runs</a> {toggle}',
            )
        )
    head = ["schedule", "task", "when", "state", "next fires", "last run", ""]
    return ctx.page("Schedules", render.table(head, rows))


async def pause(request: Request, ctx: Ctx) -> Response:
    await ctx.conn.call("schedules.pause", {"name": request.path_params["name"]})
    return RedirectResponse("/schedules", status_code=303)


async def resume(request: Request, ctx: Ctx) -> Response:
    await ctx.conn.call("schedules.resume", {"name": request.path_params["name"]})
    return RedirectResponse("/schedules", status_code=303)


async def metrics_page(request: Request, ctx: Ctx) -> Response:
    """The charts are drawn by metrics.js, which samples metrics.get every few seconds
    while the page is open (the daemon keeps no metric history)."""
    body = (
        "<p>Sampled every 5 s while this page is open (the daemon keeps no history). "
        "Counters are shown as a rate per second, gauges as they are, histograms by "
        "their count.</p>"
        '<form class="filters"><label>Name contains <input id="metric-filter"></label>'
        '<label class="check"><input type="checkbox" id="metric-idle"> show idle series'
        '</label><span id="metric-count"></span></form><div id="charts" class="charts"></div>'
    )
    return ctx.page("Metrics", body, scripts=["metrics.js"])


async def alerts_page(request: Request, ctx: Ctx) -> Response:
    now = await ctx.conn.call("alerts.list", {})
    past = await ctx.conn.call("alerts.history", {"limit": 100})
    rows = [
        (esc(a["name"]), esc(a["kind"]), esc(a["severity"]), render.status(a["state"]),
         render.when(a.get("since")) or "-", render.num(a.get("value")), esc(a.get("message", "")))
        for a in now["alerts"]
    ]  # fmt: skip
    firing = [a for a in now["alerts"] if a["state"] == "firing"]
    history = [
        (render.when(e["ts"]), esc(e["rule"]),
         f"{esc(e['previous'])} → {render.status(e['state'])}",
         esc(e.get("severity")), render.num(e.get("value")), esc(e.get("message", "")))
        for e in past["events"]
    ]  # fmt: skip
    body = (
        f'<p id="firing" class="{"alarm" if firing else "calm"}">{len(firing)} firing · '
        f"evaluated every {esc(now['interval_s'])} s</p>"
        + render.table(["rule", "kind", "severity", "state", "since", "value", "message"], rows)
        + "<h2>History</h2>"
        + render.table(["time", "rule", "change", "severity", "value", "message"], history)
    )
    return ctx.page("Alerts", body, scripts=["alerts.js"])
