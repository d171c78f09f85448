"""Who is asking: every route but the login page and the static files goes through
``guarded``, which finds the session, checks its token is still valid, checks the
CSRF token of any POST, and hands the route a connection to the daemon acting as the
session's user. A daemon error becomes a page with the matching HTTP status."""

from __future__ import annotations

import pwd
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from seqd.plugins.local import CallFailed, LocalApi, LocalConnection
from seqd_web import render
from seqd_web.sessions import COOKIE, Session, Sessions

STATUS_OF = {
    "permission_denied": 403,
    "not_found": 404,
    "validation": 400,
    "invalid_request": 400,
    "method_not_found": 404,
    "conflict": 409,
    "not_runnable": 409,
    "cancelled": 409,
    "rate_limited": 429,
    "storage_unavailable": 503,
    "shutting_down": 503,
    "timeout": 504,
}
"""HTTP status of a daemon error type; anything else is 502 (the daemon failed)."""


@dataclass
class Ctx:
    """What a route gets: the session and a connection acting as its user."""

    session: Session
    conn: LocalConnection

    @property
    def csrf(self) -> str:
        return self.session.csrf

    def page(
        self,
        title: str,
        body: str,
        scripts: Sequence[str] = (),
        data: dict[str, str] | None = None,
    ) -> HTMLResponse:
        """A whole page for this session: its CSRF token, who is logged in."""
        html = render.page(title, body, csrf=self.csrf, who=self.who, scripts=scripts, data=data)
        return HTMLResponse(html)

    @property
    def who(self) -> str:
        try:
            name = pwd.getpwuid(self.conn.uid).pw_name
        except KeyError:
            name = f"uid {self.conn.uid}"
        return f"{name} ({self.conn.role})"


Route = Callable[[Request, Ctx], Awaitable[Response]]


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/rpc/") or "application/json" in request.headers.get(
        "accept", ""
    )


def refused(request: Request, status: int, message: str) -> Response:
    if wants_json(request) or request.url.path == "/events":
        return JSONResponse({"error": message}, status_code=status)
    if status == 401:
        return RedirectResponse("/login", status_code=303)
    return HTMLResponse(render.page("Refused", f'<p class="error">{render.esc(message)}</p>'),
                        status_code=status)  # fmt: skip


def failed(request: Request, ctx: Ctx, exc: CallFailed) -> Response:
    status = STATUS_OF.get(exc.type, 502)
    if wants_json(request):
        body = {"error": exc.message, "type": exc.type, "details": exc.details}
        return JSONResponse(body, status_code=status)
    response = ctx.page("Refused", f'<p class="error">{render.esc(exc.message)}</p>')
    response.status_code = status
    return response


async def session_of(request: Request) -> Session | None:
    """The request's session, while its token still acts as the same user."""
    sessions: Sessions = request.app.state.sessions
    api: LocalApi = request.app.state.api
    session = sessions.get(request.cookies.get(COOKIE))
    if session is None:
        return None
    if await api.token_owner(session.token) != session.uid:  # revoked or expired
        sessions.close(session.id)
        return None
    return session


def guarded(route: Route) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        session = await session_of(request)
        if session is None:
            return refused(request, 401, "log in first: seqctl web token")
        if request.method == "POST":
            presented = request.headers.get("x-csrf-token")
            if presented is None and "form" in request.headers.get("content-type", ""):
                form = await request.form()
                value = form.get("csrf")
                presented = value if isinstance(value, str) else None
            if not session.csrf_ok(presented):
                return refused(request, 403, "missing or wrong CSRF token")
        api: LocalApi = request.app.state.api
        conn = await api.connect(session.uid)
        ctx = Ctx(session, conn)
        try:
            return await route(request, ctx)
        except CallFailed as exc:
            return failed(request, ctx, exc)
        finally:
            conn.close()

    return endpoint
