"""``Notification``: a server-to-client message without id, in either codec's mode.

Its own module, imported only when a notification arrives, so that a client that never
gets one (seqctl) never imports msgspec.
"""

from __future__ import annotations

from typing import Any

import msgspec


class Notification(msgspec.Struct):
    """A server-to-client message without id (``method`` is ``event`` for events)."""

    method: str
    params: Any
