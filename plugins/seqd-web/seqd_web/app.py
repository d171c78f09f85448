"""The dashboard's ASGI application: login, pages, actions, the JSON proxy for
scripts, live events and static files, behind one set of security headers."""

from __future__ import annotations

import os
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from seqd.plugins.local import LocalApi
from seqd_web import live, others, render, runs, tasks
from seqd_web.guard import Ctx, guarded
from seqd_web.sessions import COOKIE, Sessions

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]
NOT_PROXIED = ("tokens.", "events.")
"""Methods the JSON proxy refuses: a session must not mint longer-lived tokens, and
events go through /events."""


class SecurityHeaders:
    """Adds ``HEADERS`` to every response (static files and errors too)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        await self.app(scope, receive, sending)


LOGIN_FORM = """<form method="post" action="/login" class="login">
<p>Paste a token from <code>seqctl web token</code>. The dashboard then acts as the user
who made it, with that user's role.</p>
<label>Token <input type="password" name="token" autocomplete="off" required autofocus></label>
<button>Log in</button></form>"""


async def login_page(request: Request) -> Response:
    return HTMLResponse(render.page("Log in", LOGIN_FORM))


async def login(request: Request) -> Response:
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        return HTMLResponse(render.page("Refused", "<p>cross-site login</p>"), status_code=403)
    form = await request.form()
    given = form.get("token")
    token = given.strip() if isinstance(given, str) else ""
    api: LocalApi = request.app.state.api
    uid = await api.token_owner(token) if token else None
    if uid is None:
        body = '<p class="error">That token is unknown, expired or revoked.</p>' + LOGIN_FORM
        return HTMLResponse(render.page("Log in", body), status_code=401)
    session = request.app.state.sessions.open(uid, token)
    response = RedirectResponse("/runs", status_code=303)
    response.set_cookie(
        COOKIE, session.id, httponly=True, samesite="strict", path="/",
        secure=request.url.scheme == "https", max_age=int(request.app.state.sessions.ttl_s),
    )  # fmt: skip
    return response


async def logout(request: Request, ctx: Ctx) -> Response:
    request.app.state.sessions.close(ctx.session.id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


async def proxy(request: Request, ctx: Ctx) -> Response:
    """``POST /rpc/METHOD`` with JSON params: the method's result, as the session's
    user (for the pages' scripts: metrics sampling, for one)."""
    method = request.path_params["method"]
    if method.startswith(NOT_PROXIED):
        return JSONResponse({"error": f"{method} is not available here"}, status_code=403)
    try:
        params: Any = msgspec.json.decode(await request.body() or b"{}")
    except msgspec.DecodeError:
        return JSONResponse({"error": "params: not JSON"}, status_code=400)
    return JSONResponse({"result": await ctx.conn.call(method, params)})


async def home(request: Request, ctx: Ctx) -> Response:
    return RedirectResponse("/runs", status_code=303)


def build(api: LocalApi, session_ttl_s: float) -> Starlette:
    static = os.path.join(os.path.dirname(__file__), "static")
    routes = [
        Route("/", guarded(home)),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", guarded(logout), methods=["POST"]),
        Route("/rpc/{method}", guarded(proxy), methods=["POST"]),
        Route("/events", live.events),
        *runs.routes(),
        *tasks.routes(),
        *others.routes(),
        Mount("/static", StaticFiles(directory=static), name="static"),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)])
    app.state.api = api
    app.state.sessions = Sessions(session_ttl_s)
    return app
