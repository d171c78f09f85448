"""The ``[web]`` table: where the dashboard listens, and how long a login lasts.

Checked when the daemon loads its config (``__post_init__`` errors become the
config error naming ``[web]``), so a dashboard that would listen on another machine's
reach without ``allow_remote = true`` stops the daemon with exit status 2 instead of
starting exposed."""

from __future__ import annotations

import ipaddress
from typing import Annotated

import msgspec
from msgspec import Meta


class WebSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    listen: str | None = None
    """``HOST:PORT`` to serve on (``127.0.0.1:8470``; port 0: any free one, logged);
    unset: no dashboard."""
    allow_remote: bool = False
    """Let ``listen`` be an address other machines reach (put TLS in front of it)."""
    session_ttl_s: Annotated[int, Meta(ge=60, le=30 * 86400)] = 8 * 3600
    """How long a login lasts at most (never past its token's expiry)."""

    def __post_init__(self) -> None:
        if self.listen is not None:
            host, _ = address(self.listen)
            if not self.allow_remote and not loopback(host):
                raise ValueError(
                    f"listen: {host!r} is not a loopback address; the dashboard binds to "
                    "this machine only unless allow_remote = true"
                )


def address(listen: str) -> tuple[str, int]:
    """``(host, port)`` of ``HOST:PORT`` (``[::1]:8470`` for IPv6)."""
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"listen: {listen!r} is not HOST:PORT (like 127.0.0.1:8470)")
    return host.removeprefix("[").removesuffix("]"), int(port)


def loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name may resolve anywhere
