"""IANA time zones: loading one by name, and finding the machine's own.

Its own module because zone data are files (the system's ``/usr/share/zoneinfo``, else
the ``tzdata`` package): each zone is loaded once, in a thread by whoever first needs
it (``load``), and kept here, so that computing fire times on the event loop never
reads a file. The machine's zone is ``$TZ``, else what ``/etc/localtime`` links to,
else that file read as it is (named ``localtime``), else UTC.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LOCALTIME = "/etc/localtime"
_ZONEINFO_DIR = "zoneinfo/"

_loaded: dict[str, tzinfo] = {"UTC": UTC}
"""Zones by name; UTC needs no file."""
_lock = threading.Lock()


class UnknownZone(ValueError):
    """Not the name of an IANA time zone this machine knows."""


def load(name: str) -> tzinfo:
    """The zone named ``name`` (such as ``Europe/Berlin`` or ``UTC``), loaded once. May
    read files: call it off the event loop the first time a name is seen."""
    zone = _loaded.get(name)
    if zone is not None:
        return zone
    if not isinstance(name, str) or not name or len(name) > 255 or "\x00" in name:
        raise UnknownZone(f"{name!r} is not an IANA time zone name")
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UnknownZone(
            f"{name!r} is not an IANA time zone (such as UTC, Europe/Berlin or America/New_York)"
        ) from None
    with _lock:
        return _loaded.setdefault(name, zone)


def loaded(name: str) -> tzinfo:
    """A zone ``load`` already loaded (on the loop: reads nothing)."""
    return _loaded[name]


def is_loaded(name: str) -> bool:
    return name in _loaded


def machine_zone() -> str:
    """The name of the machine's zone, loaded (reads files: call it in a thread)."""
    tz = os.environ.get("TZ", "").removeprefix(":")
    if tz and not os.path.isabs(tz):
        try:
            load(tz)
            return tz
        except UnknownZone:
            pass
    try:
        target = os.path.realpath(LOCALTIME)
    except OSError:
        target = ""
    if _ZONEINFO_DIR in target:
        name = target.rsplit(_ZONEINFO_DIR, 1)[1]
        try:
            load(name)
            return name
        except UnknownZone:
            pass
    try:
        with open(LOCALTIME, "rb") as fh:
            zone = ZoneInfo.from_file(fh, key="localtime")
    except (OSError, ValueError):
        return "UTC"
    with _lock:
        _loaded.setdefault("localtime", zone)
    return "localtime"
