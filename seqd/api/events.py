"""``events.*``: subscribe and unsubscribe; the subscriptions of each connection.

A subscription lives on the connection that asked for it (``Caller.push``): its events
are notifications there, it ends when the connection does, and only that connection
can end it. Checks on what the caller asks come first (which topics, which runs, the
cursor), each a typed error naming the field; then the subscription is put on the bus
— from that moment nothing is lost — and its replay starts once the answer has gone
out (its events follow the answer on the wire).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

from seqd.api.refs import resolve
from seqd.api.visibility import visible
from seqd.errors import InvalidParams, InvalidRequest, NotFound, RateLimited, ValidationFailed
from seqd.events import cursor, replay
from seqd.events.bus import EventBus
from seqd.events.cursor import CursorState
from seqd.events.scope import Scope
from seqd.events.subscription import Limits, Subscription
from seqd.model.events import BUILTIN_TOPICS
from seqd.rpc.dispatch import Caller, Handler
from seqd.rpc.events import SubscribeParams, SubscribeResult, UnsubscribeParams, UnsubscribeResult
from seqd.rpc.push import Push

if TYPE_CHECKING:
    from seqd.api.context import Daemon

logger = logging.getLogger(__name__)

HELD_PER_QUEUED = 10
"""Live events held while a replay runs, per event a client's queue may hold."""


def scope_of(params: SubscribeParams, bus: EventBus) -> Scope:
    """The subscription ``params`` ask for; ``InvalidParams`` naming the field if it
    cannot be served."""
    known = [*BUILTIN_TOPICS, *bus.topics]
    for topic in params.topics:
        if topic not in known:
            raise InvalidParams(
                f"topics: no topic {topic!r} (known: {', '.join(known)})",
                {"field": "topics", "reason": "unknown topic", "known": known},
            )
    topics = frozenset(params.topics)
    if len(topics) != len(params.topics):
        raise InvalidParams("topics: a topic is given twice", {"field": "topics"})
    if topics & {"log", "step"} and params.run_id is None and params.root_id is None:
        raise InvalidParams(
            "run_id: the log and step topics need run_id or root_id (the run, or the tree)",
            {"field": "run_id", "reason": "required for log and step"},
        )
    if params.status is not None and "run" not in topics:
        raise InvalidParams("status: filters run events; add the run topic", {"field": "status"})
    for field, value in (("tail", params.tail), ("from_time", params.from_time)):
        if value is None:
            continue
        if "log" not in topics:
            raise InvalidParams(f"{field}: selects log lines; add the log topic", {"field": field})
        if params.since is not None:
            raise InvalidParams(f"{field}: not with since (the cursor says where to start)",
                                {"field": field})  # fmt: skip
    return Scope(
        topics=topics,
        run_id=params.run_id,
        root_id=params.root_id,
        task=params.task,
        statuses=frozenset(params.status) if params.status is not None else None,
    )


async def _resolve_runs(app: Daemon, scope: Scope, caller: Caller) -> Scope:
    """The scope with its run references (``last``, prefixes) made full ids, once the
    runs are found (and ``root_id`` names a root) and the caller may see their data
    when it asks for their log lines or journal: every run of a tree is its root's
    submitter's, so one check covers a whole tree's lines."""
    ids: dict[str, str | None] = {"run_id": scope.run_id, "root_id": scope.root_id}
    for field, ref in (("run_id", scope.run_id), ("root_id", scope.root_id)):
        if ref is None:
            continue
        try:
            run = await resolve(app.engine, ref)
        except (NotFound, ValidationFailed) as exc:
            exc.details["field"] = field
            raise
        if "log" in scope.topics or "step" in scope.topics:
            app.access.check_data(caller, run, "logs and journal entries")
        if field == "root_id" and (run.root_id or run.id) != run.id:
            raise InvalidParams(
                f"root_id: run {run.id} is not a root; its tree's root is {run.root_id}",
                {"field": field, "root_id": run.root_id},
            )
        ids[field] = run.id
    return replace(scope, run_id=ids["run_id"], root_id=ids["root_id"])


def handlers(app: Daemon) -> dict[str, Handler]:
    bus, settings = app.events, app.config.events
    limits = Limits(
        queue_events=settings.queue_events,
        queue_bytes=settings.queue_bytes,
        held_events=settings.queue_events * HELD_PER_QUEUED,
    )
    by_connection: dict[Push, dict[str, Subscription]] = {}
    ids = itertools.count(1)

    def forget(push: Push, sub: Subscription) -> None:
        mine = by_connection.get(push)
        if mine is not None:
            mine.pop(sub.id, None)
            if not mine:
                del by_connection[push]

    async def subscribe(params: SubscribeParams, caller: Caller) -> SubscribeResult:
        push = caller.push
        if push is None or push.closed:
            raise InvalidRequest("events are sent on a connection: subscribe over the socket")
        scope = scope_of(params, bus)
        state = cursor.decode(params.since) if params.since is not None else None
        mine = by_connection.get(push, {})
        if len(mine) >= settings.max_subscriptions:
            raise RateLimited(
                f"this connection has {len(mine)} subscriptions, the most it may have "
                "(events.max_subscriptions); end one with events.unsubscribe",
                {"limit": settings.max_subscriptions},
            )
        scope = await _resolve_runs(app, scope, caller)
        sub = Subscription(
            str(next(ids)), scope, CursorState(), push, partial(visible, app.access, caller), limits
        )
        by_connection.setdefault(push, {})[sub.id] = sub
        sub.on_end(lambda ended: forget(push, ended))
        bus.add(sub)  # held from here: nothing written from now on is lost
        try:
            if state is None:
                state = await replay.starting_point(
                    app.storage, bus, scope, params.tail, params.from_time
                )
        except BaseException:
            sub.end()
            raise
        sub.start_at(state)
        if not sub.ended:
            sub.replay = asyncio.ensure_future(replay.follow(sub, app.storage, bus))
        return SubscribeResult(id=sub.id, cursor=sub.sent_cursor)

    def unsubscribe(params: UnsubscribeParams, caller: Caller) -> UnsubscribeResult:
        mine = by_connection.get(caller.push) if caller.push is not None else None
        sub = mine.get(params.id) if mine is not None else None
        if sub is None:
            raise NotFound(
                f"no subscription {params.id!r} on this connection",
                {"id": params.id, "field": "id"},
            )
        sub.end()
        return UnsubscribeResult(cursor=sub.sent_cursor)

    return {"events.subscribe": subscribe, "events.unsubscribe": unsubscribe}
