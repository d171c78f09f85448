"""JSON-RPC 2.0 dispatch: bytes in, bytes out, no sockets.

Order of checks, each with its own error code: parse (-32700), envelope shape (-32600),
method lookup (-32601), params decoded with the method's prebuilt decoder (-32602,
naming the field), permission, then the handler. Handlers raise ``SeqdError``s; only
this module builds error objects. A sync handler is answered without touching the
event loop, which keeps ``daemon.ping`` close to a bare echo server.
"""

from __future__ import annotations

import inspect
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
from msgspec import UNSET

from seqd.errors import (
    INTERNAL_ERROR,
    InvalidParams,
    InvalidRequest,
    MethodNotFound,
    ParseError,
    PermissionDenied,
    SeqdError,
)
from seqd.model.roles import Role, at_least
from seqd.model.suggest import unknown
from seqd.rpc.params import validation_details
from seqd.rpc.protocol import METHODS, ErrorObject, MethodSpec, Request, Response
from seqd.rpc.push import Push

logger = logging.getLogger(__name__)

MAX_BATCH = 1000


@dataclass(frozen=True)
class Caller:
    """Who sent a request, from the socket's peer credentials, the role they give it
    (``seqd.access``), and how to reach them later (``push``: notifications on their
    connection; None off a socket)."""

    pid: int
    uid: int
    gid: int
    role: Role
    push: Push | None = field(default=None, compare=False, repr=False)

    @property
    def admin(self) -> bool:
        return self.role == "admin"


Handler = Callable[[Any, Caller], Any]
"""``handler(params, caller)`` returning the result, or an awaitable of it."""
Observer = Callable[[str, str, float], None]
"""``observe(method, outcome, seconds)``: told of every request answered (metrics);
``outcome`` is ``ok`` or the error's type."""

_request_decoder = msgspec.json.Decoder(Request)
_batch_decoder = msgspec.json.Decoder(list[msgspec.Raw])
_any_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()
_EMPTY = b"{}"
_SLOW = re.compile(
    rb'"method"\s*:\s*"(?:runs\.(?:wait|cancel|prune)|tools\.call)"|"wait"\s*:\s*true'
)


def error_response(request_id: Any, exc: SeqdError) -> Response:
    data = {"type": exc.type, "details": exc.details}
    return Response(id=request_id, error=ErrorObject(code=exc.code, message=exc.message, data=data))


def _internal(request_id: Any) -> Response:
    data = {"type": "internal", "details": {}}
    return Response(
        id=request_id,
        error=ErrorObject(code=INTERNAL_ERROR, message="internal error", data=data),
    )


class Dispatcher:
    def __init__(
        self,
        handlers: Mapping[str, Handler],
        methods: Mapping[str, MethodSpec] = METHODS,
        limiter: Callable[[int], None] | None = None,
        observe: Observer | None = None,
    ) -> None:
        """``limiter(uid)`` is charged once per request (each of a batch too) before
        its params are decoded; it raises ``RateLimited`` to refuse one. ``observe``
        is told of each request's method, outcome and duration."""
        missing = set(methods) - set(handlers)
        if missing:
            raise ValueError(f"no handler for {sorted(missing)}")
        self.methods = dict(methods)
        self.handlers = dict(handlers)
        self._decoders = {
            name: msgspec.json.Decoder(spec.params) for name, spec in self.methods.items()
        }
        self._sync = {name: not inspect.iscoroutinefunction(h) for name, h in handlers.items()}
        self._limiter = limiter
        self._observe = observe

    def is_slow(self, line: bytes) -> bool:
        """Cheap look at the raw line: may it wait long? Then it is served concurrently
        instead of holding up the connection's other requests. Errs towards "no"."""
        return _SLOW.search(line) is not None

    def handle(self, line: bytes, caller: Caller) -> bytes | Awaitable[bytes | None] | None:
        """Answer one line: response bytes, None (notifications only), or an awaitable
        of either when a handler has to wait."""
        stripped = line.strip()
        if stripped[:1] == b"[":
            return self._batch(stripped, caller)
        outcome = self._single(stripped, caller)
        if isinstance(outcome, Response):
            return _encoder.encode(outcome)
        if outcome is None:
            return None
        return self._finish_single(outcome)

    async def _finish_single(self, pending: Awaitable[Response | None]) -> bytes | None:
        response = await pending
        return None if response is None else _encoder.encode(response)

    # -- one request ---------------------------------------------------------------

    def _single(self, raw: bytes, caller: Caller) -> Response | Awaitable[Response | None] | None:
        started = time.perf_counter()
        try:
            request = _request_decoder.decode(raw)
        except (msgspec.DecodeError, RecursionError):
            return self._observed("", started, self._bad_envelope(raw))
        rid = None if request.id is UNSET else request.id
        notification = request.id is UNSET
        try:
            if request.jsonrpc != "2.0":
                raise InvalidRequest('"jsonrpc" must be "2.0"', {"field": "jsonrpc"})
            spec = self.methods.get(request.method)
            if spec is None:
                raise unknown(
                    f"no such method: {request.method!r}",
                    request.method,
                    self.methods,
                    {"method": request.method},
                    MethodNotFound,
                )
            if self._limiter is not None:
                self._limiter(caller.uid)
            raw_params = _EMPTY if request.params is UNSET else bytes(request.params)
            if raw_params.lstrip()[:1] not in (b"{", b"["):
                raise InvalidRequest(
                    '"params" must be an object (or an array)', {"field": "params"}
                )
            try:
                params = self._decoders[request.method].decode(raw_params)
            except msgspec.ValidationError as exc:
                message, details = validation_details(exc)
                raise InvalidParams(f"invalid params: {message}", details) from None
            except RecursionError:
                raise InvalidParams(
                    "invalid params: nested too deeply", {"field": None, "reason": "depth"}
                ) from None
            if not at_least(caller.role, spec.role):
                raise PermissionDenied(
                    f"{request.method} needs the role {spec.role!r}; uid {caller.uid} has "
                    f"{caller.role!r} (see [access] in the daemon's config)",
                    {
                        "method": request.method,
                        "uid": caller.uid,
                        "role": caller.role,
                        "needed": spec.role,
                    },
                )
            handler = self.handlers[request.method]
            if self._sync[request.method]:
                result = handler(params, caller)
                self._record(request.method, "ok", started)
                return None if notification else Response(id=rid, result=result)
            return self._await(handler(params, caller), rid, notification, request.method, started)
        except SeqdError as exc:
            self._record(request.method, exc.type, started)
            return None if notification else error_response(rid, exc)
        except Exception:
            logger.exception("handler for %r failed", request.method)
            self._record(request.method, "internal", started)
            return None if notification else _internal(rid)

    async def _await(
        self, awaitable: Awaitable[Any], rid: Any, notification: bool, method: str, started: float
    ) -> Response | None:
        try:
            result = await awaitable
        except SeqdError as exc:
            self._record(method, exc.type, started)
            return None if notification else error_response(rid, exc)
        except Exception:
            logger.exception("handler for %r failed", method)
            self._record(method, "internal", started)
            return None if notification else _internal(rid)
        self._record(method, "ok", started)
        return None if notification else Response(id=rid, result=result)

    def _record(self, method: str, outcome: str, started: float) -> None:
        if self._observe is not None:
            self._observe(method, outcome, time.perf_counter() - started)

    def _observed(self, method: str, started: float, response: Response) -> Response:
        """``response`` (an error), recorded."""
        if self._observe is not None and response.error is not UNSET:
            kind = response.error.data.get("type", "error") if response.error.data else "error"
            self._record(method, str(kind), started)
        return response

    def _bad_envelope(self, raw: bytes) -> Response:
        try:
            value = _any_decoder.decode(raw)
        except msgspec.DecodeError as exc:
            return error_response(None, ParseError(f"parse error: {exc}"))
        except RecursionError:
            return error_response(None, ParseError("parse error: nested too deeply"))
        rid = None
        if isinstance(value, dict):
            candidate = value.get("id")
            if isinstance(candidate, (int, str)) and not isinstance(candidate, bool):
                rid = candidate
            problem = _envelope_problem(value)
        else:
            problem = f"a request must be an object, not {type(value).__name__}"
        return error_response(rid, InvalidRequest(f"invalid request: {problem}"))

    # -- batches -------------------------------------------------------------------

    def _batch(self, raw: bytes, caller: Caller) -> bytes | Awaitable[bytes | None] | None:
        try:
            items = _batch_decoder.decode(raw)
        except (msgspec.DecodeError, RecursionError):
            response = self._bad_envelope(raw)
            return _encoder.encode(response)
        if not items:
            return _encoder.encode(
                error_response(None, InvalidRequest("invalid request: empty batch"))
            )
        if len(items) > MAX_BATCH:
            return _encoder.encode(
                error_response(
                    None,
                    InvalidRequest(
                        f"invalid request: batch of {len(items)} exceeds {MAX_BATCH}",
                        {"limit": MAX_BATCH},
                    ),
                )
            )
        done: list[Response | None] = []
        for index, item in enumerate(items):
            outcome = self._single(bytes(item), caller)
            if outcome is None or isinstance(outcome, Response):
                done.append(outcome)
            else:
                return self._finish_batch(done, outcome, items[index + 1 :], caller)
        return self._encode_batch(done)

    async def _finish_batch(
        self,
        done: list[Response | None],
        waiting: Awaitable[Response | None],
        rest: list[msgspec.Raw],
        caller: Caller,
    ) -> bytes | None:
        """Go on with a batch once one of its requests has to wait: the requests run
        one after the other, in the order given."""
        done.append(await waiting)
        for item in rest:
            outcome = self._single(bytes(item), caller)
            if outcome is not None and not isinstance(outcome, Response):
                outcome = await outcome
            done.append(outcome)
        return self._encode_batch(done)

    @staticmethod
    def _encode_batch(responses: list[Response | None]) -> bytes | None:
        kept = [r for r in responses if r is not None]
        return _encoder.encode(kept) if kept else None


def _envelope_problem(value: dict[str, Any]) -> str:
    if value.get("jsonrpc") != "2.0":
        return '"jsonrpc" must be "2.0"'
    if not isinstance(value.get("method"), str):
        return '"method" must be a string'
    if "id" in value and not isinstance(value["id"], (int, str, type(None))):
        return '"id" must be a string, a number or null'
    if "params" in value and not isinstance(value["params"], (dict, list)):
        return '"params" must be an object'
    extra = set(value) - {"jsonrpc", "method", "params", "id"}
    if extra:
        return f"unknown member(s) {sorted(extra)}"
    return "malformed request"
