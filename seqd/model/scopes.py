"""Idempotency scopes: whose key space an idempotency key lives in.

A key is unique within its scope only, and the scope always comes from who submits,
never from what they send: ``uid:<uid>`` for a user (over the socket, or a run acting
for it through ``task.run``), ``run:<parent id>`` for the children a run starts through
its journal (``ctx.run_task``, flow states), and ``system`` for what the daemon starts by
itself. So no user can take a key another user, a run or the daemon will use, and a
parent only ever finds its own children.

Its own module because the API, the engine, the tools, the storage backends (for runs
stored before scopes existed) and export/import must all spell scopes the same way.
"""

from __future__ import annotations

SYSTEM_SCOPE = "system"


def user_scope(uid: int) -> str:
    return f"uid:{uid}"


def child_scope(parent_id: str) -> str:
    return f"run:{parent_id}"


def submitter_scope(uid: int | None) -> str:
    """The scope of keys given by whoever ``uid`` is (None: the daemon itself)."""
    return SYSTEM_SCOPE if uid is None else user_scope(uid)


def legacy_scope(key: str | None, parent_id: str | None, submitted_by: int | None) -> str | None:
    """The scope of a run stored before scopes existed, from its key, parent and
    submitter: a child started through its parent's journal (key ``<parent
    id>.<attempt>:...``) is in its parent's; any other keyed run in its submitter's.
    The SQL stores' migrations say the same in SQL."""
    if key is None:
        return None
    if parent_id is not None and key.startswith(parent_id + "."):
        return child_scope(parent_id)
    return submitter_scope(submitted_by)
