"""The statements of multi-node (``cluster``): node rows, claims, takeovers, fencing.

Lease times are the server's (``now()``), never a node's clock: nodes whose clocks
disagree still agree on whose lease ran out.
"""

# ruff: noqa: S608 -- statements are built from constants and placeholders, never values

from __future__ import annotations

UNFINISHED_HELD = "('queued', 'running', 'suspended')"

JOIN = (
    "INSERT INTO nodes (id, data, heartbeat_at, expires_at)"
    " VALUES (%s, %s, now(), now() + make_interval(secs => %s))"
)
# The heartbeat renews this node's lease; no row means it was taken over (deleted).
# It also says how many other nodes' leases have run out, so that someone takes them,
# and how many nodes are alive (``daemon.status``).
HEARTBEAT = """
WITH mine AS (
    UPDATE nodes SET heartbeat_at = now(), expires_at = now() + make_interval(secs => %s)
    WHERE id = %s RETURNING id
)
SELECT (SELECT count(*) FROM mine), (SELECT count(*) FROM nodes WHERE expires_at < now()),
       (SELECT count(*) FROM nodes WHERE expires_at >= now())
"""
NODE_ROWS = "SELECT id, data FROM nodes"
EXPIRE = "UPDATE nodes SET expires_at = now() - interval '1 second' WHERE id = ANY(%s::text[])"
LIST_NODES = f"""
SELECT n.data, n.heartbeat_at, n.expires_at, n.expires_at >= now(),
       (SELECT count(*) FROM runs r WHERE r.lease_node = n.id AND r.status IN {UNFINISHED_HELD})
FROM nodes n ORDER BY n.id
"""
# A claim: the queued runs nobody holds, highest priority first, then the oldest (the
# order of the index ``runs_unheld``), skipping those another node is claiming right
# now (SKIP LOCKED), so that no run is handed to two nodes and no node waits.
CLAIM = """
UPDATE runs SET lease_node = %(node)s, lease_epoch = lease_epoch + 1
WHERE id IN (
    SELECT id FROM runs
    WHERE status = 'queued' AND lease_node IS NULL AND NOT (task = ANY(%(limited)s::text[]))
    ORDER BY priority DESC, id LIMIT %(n)s FOR UPDATE SKIP LOCKED
)
RETURNING data, lease_epoch
"""
# A task with a concurrency limit is claimed under a transaction lock of its own, after
# counting what the cluster holds of it: two nodes cannot both take the last place.
TASK_LOCK_CLASS = 0x5E9F
"""First key of the per-task lock (0x5E9D: migrations, 0x5E9E: the exclusive claim)."""
TASK_LOCK = "SELECT pg_advisory_xact_lock(%s, hashtext(%s))"
TASK_HELD = (
    "SELECT count(*) FROM runs WHERE task = %s AND lease_node IS NOT NULL"
    " AND status IN ('queued', 'running')"
)
CLAIM_TASK = """
UPDATE runs SET lease_node = %(node)s, lease_epoch = lease_epoch + 1
WHERE id IN (
    SELECT id FROM runs WHERE status = 'queued' AND lease_node IS NULL AND task = %(task)s
    ORDER BY priority DESC, id LIMIT %(n)s FOR UPDATE SKIP LOCKED
)
RETURNING data, lease_epoch
"""
# A takeover: the dead nodes' rows go, and their unfinished runs (and any running or
# suspended run that no live node holds) are held by the taker under a new epoch.
# Two takers queue on the row locks; the second then finds the runs held by a live
# node and leaves them.
TAKE_OVER = f"""
WITH dead AS (DELETE FROM nodes WHERE expires_at < now() RETURNING id)
UPDATE runs SET lease_node = %(node)s, lease_epoch = lease_epoch + 1
WHERE status IN {UNFINISHED_HELD}
  AND ((lease_node IS NULL AND status <> 'queued')
       OR (lease_node IS NOT NULL AND lease_node <> %(node)s AND NOT EXISTS (
            SELECT 1 FROM nodes n
            WHERE n.id = runs.lease_node AND n.expires_at >= now()
              AND n.id NOT IN (SELECT id FROM dead))))
RETURNING data, lease_epoch
"""
# After a claim or takeover whose answer was lost: the runs it may have given this node.
HELD_UNKNOWN = (
    f"SELECT data, lease_epoch FROM runs WHERE lease_node = %s AND status IN {UNFINISHED_HELD}"
    " AND NOT (id = ANY(%s::text[]))"
)
# Leaving: runs not started yet go back to the queue; the lease ends now, so that the
# node's other unfinished runs are taken over at once.
GIVE_BACK = "UPDATE runs SET lease_node = NULL WHERE lease_node = %s AND status = 'queued'"
NOTIFY = "SELECT pg_notify(%s, %s)"

FENCE = " AND lease_node = %s AND lease_epoch = %s"
"""Appended to a run update: only while this node still holds the run."""
FENCE_EXISTS = (
    "EXISTS (SELECT 1 FROM runs WHERE id = %(run)s AND lease_node = %(node)s"
    " AND lease_epoch = %(epoch)s FOR SHARE)"
)
"""The condition of a fenced append. ``FOR SHARE`` waits for a takeover in progress
and then sees its epoch; a takeover waits for an append in progress."""
