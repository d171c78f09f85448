"""``GET /events``: the daemon's event bus as Server-Sent Events, for live pages.

The query names an ``events.subscribe`` (``topics=run,log``, ``run_id``, ``root_id``,
``task``, ``status``, ``tail``); the subscription is made on a connection acting as
the session's user, so it is checked exactly as seqctl's would be (a reader does not
get another user's log lines), and it ends when the browser goes away."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from seqd.plugins.local import CallFailed, LocalApi, LocalConnection
from seqd_web.guard import STATUS_OF, refused, session_of

HEARTBEAT_S = 15.0
"""A comment line this often, so a closed tab is noticed and proxies keep the stream."""


def subscription(request: Request) -> dict[str, Any]:
    """The ``events.subscribe`` params the query asks for (the daemon checks them)."""
    q = request.query_params
    params: dict[str, Any] = {"topics": [t for t in q.get("topics", "run").split(",") if t]}
    for key in ("run_id", "root_id", "task"):
        if q.get(key):
            params[key] = q[key]
    if q.get("status"):
        params["status"] = q["status"].split(",")
    if q.get("tail", "").isdigit():
        params["tail"] = int(q["tail"])
    return params


async def events(request: Request) -> Response:
    session = await session_of(request)
    if session is None:
        return refused(request, 401, "log in first: seqctl web token")
    api: LocalApi = request.app.state.api
    conn = await api.connect(session.uid)
    try:
        await conn.call("events.subscribe", subscription(request))
    except CallFailed as exc:
        conn.close()
        body = {"error": exc.message, "type": exc.type, "details": exc.details}
        return JSONResponse(body, status_code=STATUS_OF.get(exc.type, 502))
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(_stream(conn), media_type="text/event-stream", headers=headers)


async def _stream(conn: LocalConnection) -> AsyncIterator[str]:
    try:
        yield ": subscribed\n\n"
        while True:
            try:
                message = await asyncio.wait_for(conn.notification(), HEARTBEAT_S)
            except TimeoutError:
                yield ": heartbeat\n\n"
                continue
            params = message.get("params") or {}
            topic = str(params.get("topic", "message"))
            yield f"event: {topic}\ndata: {json.dumps(params, separators=(',', ':'))}\n\n"
            if topic == "cut":
                return
    finally:
        conn.close()
