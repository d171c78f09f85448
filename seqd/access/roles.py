"""The role of a peer, and of a run's submitter, from ``[access]``.

Root, the daemon's own user and ``admin_uids`` are admins, always. Otherwise the
``users`` and ``groups`` entries that match decide (the most capable of them wins), and
a peer no entry names gets ``default_role``. A peer's groups are those of its process
(``SO_PEERGROUPS``: the kernel's answer at connect time, not the group database); a
run acts for its submitter, whose groups come from the group database (looked up off
the loop and remembered until the next reload).

Its own module because the server (each connection), the tool service (each tool call
of a run) and the API ask the same question of different kinds of identity.
"""

from __future__ import annotations

import asyncio
import grp
import os
import pwd
from collections.abc import Callable, Iterable, Mapping

from seqd.config.settings import Access, ConfigError
from seqd.model.roles import Role, highest


def _ids(entries: Mapping[str, Role], lookup: Callable[[str], int], what: str) -> dict[int, Role]:
    ids: dict[int, Role] = {}
    for key, role in entries.items():
        if key.isdigit():
            ids[int(key)] = role
            continue
        try:
            ids[lookup(key)] = role
        except KeyError:
            raise ConfigError(f"access.{what}s: no {what} named {key!r}") from None
    return ids


class Roles:
    """Resolves uids (with their groups) to roles; names in the config are looked up
    once, when it is built (an unknown name is a ``ConfigError``)."""

    def __init__(self, access: Access, daemon_uid: int | None = None) -> None:
        daemon_uid = os.geteuid() if daemon_uid is None else daemon_uid
        self.admins = frozenset({0, daemon_uid, *access.admin_uids})
        self.users = _ids(access.users, lambda name: pwd.getpwnam(name).pw_uid, "user")
        self.groups = _ids(access.groups, lambda name: grp.getgrnam(name).gr_gid, "group")
        self.default = access.default_role
        self._submitters: dict[int, Role] = {}

    def _decide(self, uid: int, gids: Iterable[int]) -> Role:
        if uid in self.admins:
            return "admin"
        matched: list[Role] = []
        if uid in self.users:
            matched.append(self.users[uid])
        matched.extend(self.groups[g] for g in gids if g in self.groups)
        return highest(matched, self.default)

    def of_peer(self, uid: int, gid: int, groups: Callable[[], Iterable[int]]) -> Role:
        """A connected peer's role; ``groups()`` (its supplementary groups) is only
        asked for when the config has group entries."""
        if uid < 0:
            return "none"  # no credentials: nobody we know
        if not self.groups or uid in self.admins:
            return self._decide(uid, ())
        return self._decide(uid, [gid, *groups()])

    async def of_submitter(self, uid: int | None) -> Role:
        """The role a run acts with: its submitter's. A run nobody submitted (the
        daemon's own, or from before roles existed) acts as the daemon's user."""
        if uid is None:
            return "admin"
        if not self.groups or uid in self.admins:
            return self._decide(uid, ())
        role = self._submitters.get(uid)
        if role is None:
            gids = await asyncio.to_thread(_database_groups, uid)
            role = self._submitters[uid] = self._decide(uid, gids)
        return role

    def forget(self) -> None:
        """Look submitters' groups up again (after a reload)."""
        self._submitters.clear()


def _database_groups(uid: int) -> list[int]:
    """The groups of ``uid`` by the group database (blocking: NSS may ask a server)."""
    try:
        entry = pwd.getpwuid(uid)
    except KeyError:
        return []
    return os.getgrouplist(entry.pw_name, entry.pw_gid)
