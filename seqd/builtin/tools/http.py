"""The built-in ``http.request`` tool, on the standard library (``urllib.request``).

No new dependency: one request per call, run on a thread so the loop never blocks. The
host must be on the allow-list the caller gets (``tools.http_allow_hosts``, per task
``[tools.tasks.<task>] http_allow_hosts``; unset: any host) — checked for the URL and
again for every redirect, which is followed only when asked. The address connected to
must be a global one unless the config allows more (``netguard``), checked at every
connection. Proxy variables of the daemon's environment are not used. Headers the
config gives a host (``[tools.http_headers]``, secrets included) are added to requests
to that host only, and dropped on a redirect to another host. The body read is capped
(``max_bytes``, at most ``tools.http_max_response_bytes``): past it the response is cut
and ``truncated`` is true. A status of 4xx/5xx is a response, not a failure; a refused
connection, a DNS failure or a timeout is a ``tool_failed`` / ``timeout`` error; a
refused address is ``permission_denied``. Called by a run, the request carries the
call's span as a W3C ``traceparent`` header (unless the params set one), so the service
it reaches can join the run's trace.
"""

from __future__ import annotations

import asyncio
import email.message
import http.client
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from seqd import hookimpl
from seqd.builtin.tools.netguard import (
    AddressPolicy,
    AddressRefused,
    CheckedHTTPHandler,
    CheckedHTTPSHandler,
)
from seqd.errors import PermissionDenied, Timeout, ToolFailed, ValidationFailed
from seqd.model.traces import format_traceparent
from seqd.plugins.tools import Tool, ToolContext

Method = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class RequestParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    url: Annotated[str, Meta(min_length=1, max_length=8192)]
    method: Method = "GET"
    headers: dict[str, str] = {}
    body: str | UnsetType = UNSET
    """A text body (sent as UTF-8)."""
    json: Any | UnsetType = UNSET
    """A JSON body (sets ``Content-Type: application/json``); not with ``body``."""
    timeout_s: Annotated[float, Meta(gt=0)] = 30.0
    max_bytes: Annotated[int, Meta(ge=1)] | None = None
    follow_redirects: bool = False


class Response(msgspec.Struct, kw_only=True):
    status: int
    url: str
    """The final URL (after redirects, when followed)."""
    headers: dict[str, str]
    """Lower-cased names; repeated headers joined with ", "."""
    body: str | None = None
    """The body as text (UTF-8, undecodable bytes replaced), unless it was JSON."""
    json: Any = None
    """The decoded body when the response says it is JSON and it parses."""
    size: int
    """Bytes of body read."""
    truncated: bool


def host_allowed(host: str, allowed: list[str] | None) -> bool:
    """``allowed`` None: every host. Else an exact name, or ``*.example.com`` for any
    subdomain of example.com (not example.com itself)."""
    if allowed is None:
        return True
    host = host.lower().rstrip(".")
    for pattern in allowed:
        pattern = pattern.lower().rstrip(".")
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and host != pattern[2:]:
                return True
        elif host == pattern:
            return True
    return False


def check_url(url: str, allowed: list[str] | None, field: str = "params.url") -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValidationFailed(
            f"http.request: only http and https URLs, not {parts.scheme or 'none'!r}",
            {"field": field},
        )
    host = parts.hostname
    if not host:
        raise ValidationFailed("http.request: the URL has no host", {"field": field})
    if not host_allowed(host, allowed):
        raise PermissionDenied(
            f"http.request: host {host!r} is not on the allow-list",
            {"field": field, "host": host, "allowed": allowed},
        )
    return host


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only when asked, and only to an allowed host; credentials
    (the config's headers, ``Authorization``, ``Cookie``) stay with the first host."""

    def __init__(self, follow: bool, allowed: list[str] | None, private: set[str]) -> None:
        self.follow = follow
        self.allowed = allowed
        self.private = {name.lower() for name in private} | {"authorization", "cookie"}

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        if not self.follow:
            return None  # urllib then hands the 3xx back as the response
        host = check_url(newurl, self.allowed, field="redirect")
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and host.lower() != (urllib.parse.urlsplit(req.full_url).hostname or ""):
            for name in list(new.headers):
                if name.lower() in self.private:
                    del new.headers[name]
        return new


def _headers(message: email.message.Message) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in message.items():
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def _exchange(
    params: RequestParams, data: bytes | None, headers: dict[str, str], allowed: list[str] | None,
    limit: int, policy: AddressPolicy, private: set[str],
) -> Response:  # fmt: skip
    """The blocking request (on a thread)."""
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        CheckedHTTPHandler(policy),
        CheckedHTTPSHandler(policy),
        _Redirects(params.follow_redirects, allowed, private),
    )
    # The scheme was checked (http or https only) by check_url before we got here.
    req = urllib.request.Request(params.url, data=data, headers=headers, method=params.method)  # noqa: S310
    try:
        reply = opener.open(req, timeout=params.timeout_s)
    except urllib.error.HTTPError as exc:
        reply = exc  # a 4xx/5xx (or an unfollowed 3xx) is still a response
    try:
        body = reply.read(limit + 1) if params.method != "HEAD" else b""
        status = int(reply.status if reply.status is not None else reply.getcode() or 0)
        return _response(status, reply.geturl(), _headers(reply.headers), body, limit)
    finally:
        reply.close()


def _response(status: int, url: str, headers: dict[str, str], body: bytes, limit: int) -> Response:
    truncated = len(body) > limit
    body = body[:limit]
    result = Response(status=status, url=url, headers=headers, size=len(body), truncated=truncated)
    ctype = headers.get("content-type", "").split(";")[0].strip().lower()
    if not truncated and (ctype == "application/json" or ctype.endswith("+json")):
        try:
            result.json = msgspec.json.decode(body)
            return result
        except msgspec.DecodeError:
            pass
    result.body = body.decode("utf-8", "replace")
    return result


class HttpRequest:
    name = "http.request"
    description = "Make an HTTP(S) request to an allowed host; response status, headers, body."
    params_schema = RequestParams
    result_schema = Response

    async def call(self, params: RequestParams, ctx: ToolContext) -> Response:
        cfg = ctx.config.tools
        allowed = ctx.http_allow_hosts
        host = check_url(params.url, allowed)
        if params.timeout_s > cfg.http_max_timeout_s:
            raise ValidationFailed(
                f"http.request: timeout_s is above tools.http_max_timeout_s "
                f"({cfg.http_max_timeout_s})",
                {"field": "params.timeout_s"},
            )
        headers = dict(params.headers)
        data: bytes | None = None
        if not isinstance(params.body, UnsetType) and not isinstance(params.json, UnsetType):
            raise ValidationFailed(
                "http.request: give body or json, not both", {"field": "params.json"}
            )
        if not isinstance(params.body, UnsetType):
            data = params.body.encode("utf-8")
        elif not isinstance(params.json, UnsetType):
            data = msgspec.json.encode(params.json)
            if not any(k.lower() == "content-type" for k in headers):
                headers["Content-Type"] = "application/json"
        caller = ctx.caller
        own = any(k.lower() == "traceparent" for k in headers)
        if caller.trace_id is not None and caller.span_id is not None and not own:
            # The request joins the run's trace, unless the caller set its own.
            headers["traceparent"] = format_traceparent(caller.trace_id, caller.span_id)
        limit = min(params.max_bytes or cfg.http_max_response_bytes, cfg.http_max_response_bytes)
        added = _configured_headers(host, headers, ctx)
        headers.update(added)
        policy = AddressPolicy(cfg.http_allow_private, ctx.http_allow_networks)
        try:
            return await asyncio.to_thread(
                _exchange, params, data, headers, allowed, limit, policy, set(added)
            )
        except TimeoutError:
            raise Timeout(
                f"http.request: no answer from {params.url} within {params.timeout_s}s",
                {"tool": self.name, "timeout_s": params.timeout_s},
            ) from None
        except AddressRefused as exc:
            raise _refused(exc) from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, AddressRefused):
                raise _refused(reason) from None
            if isinstance(reason, TimeoutError | socket.timeout):
                raise Timeout(
                    f"http.request: no answer from {params.url} within {params.timeout_s}s",
                    {"tool": self.name, "timeout_s": params.timeout_s},
                ) from None
            kind = "tls" if isinstance(reason, ssl.SSLError) else "connection"
            raise ToolFailed(
                f"http.request: {params.url}: {reason}", {"reason": kind, "url": params.url}
            ) from None
        except (OSError, ValueError) as exc:
            raise ToolFailed(
                f"http.request: {params.url}: {exc}", {"reason": "connection", "url": params.url}
            ) from None


def _configured_headers(host: str, given: dict[str, str], ctx: ToolContext) -> dict[str, str]:
    """The headers ``[tools.http_headers]`` gives ``host`` (secrets resolved), except
    those the caller set itself."""
    taken = {name.lower() for name in given}
    added: dict[str, str] = {}
    for pattern, headers in ctx.config.tools.http_headers.items():
        if not host_allowed(host, [pattern]):
            continue
        for name, value in headers.items():
            if name.lower() in taken:
                continue
            try:
                added[name] = ctx.secrets.resolve(value, f"tools.http_headers.{pattern}.{name}")
            except KeyError as exc:
                raise ToolFailed(
                    f"http.request: {exc.args[0]}", {"reason": "config", "host": host}
                ) from None
    return added


def _refused(exc: AddressRefused) -> PermissionDenied:
    return PermissionDenied(
        f"http.request: {exc}; only global addresses may be reached unless "
        "tools.http_allow_private or tools.http_allow_networks allow it",
        {"field": "params.url", "host": exc.host, "address": exc.address, "why": exc.why},
    )


@hookimpl
def seqd_register_tools(register: Callable[[Tool], None]) -> None:
    register(HttpRequest())
