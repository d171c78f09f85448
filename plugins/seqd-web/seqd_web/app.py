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
from seqd_web import live, nodes, others, render, runs, tasks
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


LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})


def host_of(header: str) -> str:
    """The host part of a ``Host`` header: ``[::1]:8470`` → ``::1``."""
    if header.startswith("["):
        return header[1:].partition("]")[0]
    return header.rpartition(":")[0] if ":" in header else header


class LoopbackHostOnly:
    """Refuses a request whose ``Host`` is not a name of this machine (421), when the
    dashboard listens on loopback only: a web page whose name an attacker re-points
    at 127.0.0.1 (DNS rebinding) then cannot even reach the login form."""

    def __init__(self, app: ASGIApp, listen_host: str) -> None:
        self.app = app
        self.allowed = LOOPBACK_NAMES | {listen_host}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            host = host_of(headers.get(b"host", b"").decode("latin-1"))
            if host not in self.allowed:
                response = Response("misdirected request", status_code=421)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


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


def build(api: LocalApi, session_ttl_s: float, loopback_host: str | None = None) -> Starlette:
    """The application; ``loopback_host``: the loopback address it listens on, whose
    names alone are accepted in ``Host`` (None: any, for ``allow_remote``)."""
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
        *nodes.routes(),
        Mount("/static", StaticFiles(directory=static), name="static"),
    ]
    middleware = [Middleware(SecurityHeaders)]
    if loopback_host is not None:
        middleware.append(Middleware(LoopbackHostOnly, listen_host=loopback_host))
    app = Starlette(routes=routes, middleware=middleware)
    app.state.api = api
    app.state.sessions = Sessions(session_ttl_s)
    return app
