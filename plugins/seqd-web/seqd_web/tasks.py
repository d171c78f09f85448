"""Task pages: the list with problems, and one task (schema, version, problems) with a
form, generated from its input schema, that submits a run."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from seqd_web import forms, render
from seqd_web.guard import Ctx, guarded
from seqd_web.render import esc, url


def routes() -> list[Route]:
    return [
        Route("/tasks", guarded(tasks_page)),
        Route("/tasks/{name}", guarded(task_page)),
        Route("/tasks/{name}/submit", guarded(submit), methods=["POST"]),
    ]


def _problems(problems: list[dict[str, object]]) -> str:
    return "<br>".join(esc(p.get("message", p)) for p in problems) or "-"


async def tasks_page(request: Request, ctx: Ctx) -> Response:
    found = await ctx.conn.call("tasks.list", {})
    rows = [
        (
            f'<a href="{url("tasks", t["name"])}">{esc(t["name"])}</a>',
            esc(t.get("type")),
            esc(t.get("version") or ""),
            esc(t.get("description", "")),
            "ok"
            if t.get("valid", True)
            else f'<span class="error">{_problems(t["problems"])}</span>',
        )
        for t in found["tasks"]
    ]  # fmt: skip
    return ctx.page(
        "Tasks", render.table(["task", "type", "version", "description", "problems"], rows)
    )


async def task_page(request: Request, ctx: Ctx, error: str = "") -> Response:
    task = await ctx.conn.call("tasks.get", {"name": request.path_params["name"]})
    facts = [
        ("type", esc(task.get("type"))),
        ("version", esc(task.get("version") or "-")),
        ("description", esc(task.get("description", ""))),
        ("timeout", esc(task.get("timeout_s") or "-")),
        ("tags", esc(", ".join(task.get("tags") or [])) or "-"),
        ("problems", _problems(task.get("problems") or [])),
        ("runs", f'<a href="/runs?task={esc(task["name"])}">runs of this task</a>'),
    ]
    form = (
        f'<form method="post" action="{url("tasks", task["name"])}/submit" class="submit">'
        f"{render.csrf_field(ctx.csrf)}{forms.fields(task.get('inputs'))}"
        "<button>Submit run</button></form>"
    )
    note = f'<p class="error">{esc(error)}</p>' if error else ""
    body = (
        render.definition(facts)
        + f"<h2>Submit</h2>{note}{form}"
        + f"<h2>Versions in recent runs</h2>{await _versions(ctx, task)}"
        + f"<h2>Input schema ({esc(task.get('inputs_from'))})</h2>"
        + render.code(task.get("inputs"))
    )
    response = ctx.page(f"Task {task['name']}", body)
    if error:
        response.status_code = 400
    return response


RECENT = 200
"""Runs of a task looked at for the versions it ran as."""


async def _versions(ctx: Ctx, task: dict[str, Any]) -> str:
    """The task versions its latest runs ran with (a version is a hash of the task's
    folder: it changes with each edit), newest first, with how many runs and the
    latest of them."""
    found = await ctx.conn.call("runs.list", {"task": task["name"], "limit": RECENT})
    seen: dict[str, list[dict[str, Any]]] = {}
    for run in found["runs"]:
        seen.setdefault(run.get("task_version") or "-", []).append(run)
    if not seen:
        return "<p>no runs yet</p>"
    rows = [
        (esc(version) + " (current)" * (version == task.get("version")), esc(len(runs)),
         f'<a href="{url("runs", runs[0]["id"])}">{esc(runs[0]["id"][:12])}</a> '
         f"{render.status(runs[0]['status'])} {render.when(runs[0].get('created_at'))}")
        for version, runs in seen.items()
    ]  # fmt: skip
    return render.table(["version", f"runs (of the last {RECENT})", "latest"], rows)


async def submit(request: Request, ctx: Ctx) -> Response:
    name = request.path_params["name"]
    task = await ctx.conn.call("tasks.get", {"name": name})
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        given = forms.values(task.get("inputs"), form)
    except forms.FormError as exc:
        return await task_page(request, ctx, str(exc))
    run = await ctx.conn.call("runs.submit", {"task": name, "input": given})
    return RedirectResponse(url("runs", run["id"]), status_code=303)
