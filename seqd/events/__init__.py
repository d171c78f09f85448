"""Events: what the daemon stored, pushed to the clients that subscribe.

The bus (``bus``) routes each announced write — run writes with their change position,
log and journal appends, and events of topics other parts add (alerts, schedules) — to
the subscriptions whose scope (``scope``) may hold it. A subscription
(``subscription``) keeps its cursor (``cursor``), holds live events while its replay
from storage runs (``replay``), passes each event through its caller's view, and is
bounded: a client too slow for its queue is cut with the cursor to resume from. What
the bus hands out is in ``published``; the events themselves are
``seqd.model.events``. Storage announces its writes (``seqd.storage.traced``) and
``seqd.api.events`` owns the subscriptions of each connection.

May import: ``seqd.flow``, ``seqd.runtime``, ``seqd.plugins``, ``seqd.config``,
``seqd.rpc``, ``seqd.model``, ``seqd.errors``.
"""
