"""The systemd protocols seqd speaks, in plain socket code (no libsystemd).

- ``sd_notify``: READY / RELOADING / STOPPING / STATUS / WATCHDOG datagrams sent to
  ``$NOTIFY_SOCKET``. Outside systemd (variable unset) every call is a cheap no-op that
  returns False; a failure is logged and never raised, because a lost status line must not
  take the daemon down.
- Watchdog: ``$WATCHDOG_USEC`` (for us only when ``$WATCHDOG_PID`` is unset or ours). The
  ping is scheduled on the daemon's own event loop, so a stalled loop stops the pings and
  systemd restarts the service.
- Socket activation: ``$LISTEN_PID`` / ``$LISTEN_FDS`` / ``$LISTEN_FDNAMES``, file
  descriptors from 3 on, read as ``sd_listen_fds`` / ``sd_listen_fds_with_names`` do.

The pattern is gunicorn's ``gunicorn/systemd.py``. Nothing here reads the environment at
import time.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Mapping
from typing import NamedTuple

from seqd.config.settings import ConfigError

logger = logging.getLogger(__name__)

SD_LISTEN_FDS_START = 3
"""The first file descriptor systemd passes (after stdin, stdout, stderr)."""

_SEND_TIMEOUT_S = 1.0


class UnsupportedSocket(ConfigError):
    """A passed file descriptor is not something seqd can serve on (the daemon accepts a
    listening AF_UNIX stream socket only); the message names the fd and what it is.
    A ConfigError, because the fix is in the unit file, and start-up reports it as such."""


class ListenSocket(NamedTuple):
    """One socket passed by socket activation, with its ``FileDescriptorName=``
    (``"unknown"`` when systemd gave none). A tuple, so ``for name, sock in ...`` works."""

    name: str
    sock: socket.socket


# --- sd_notify ------------------------------------------------------------------------


def _notify_address(value: str) -> str | bytes | None:
    if value.startswith("@"):
        # Abstract namespace: a leading NUL instead of '@', no filesystem entry.
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    return None


def notify(*states: str) -> bool:
    """Send ``states`` (``"KEY=VALUE"`` each) as one datagram to ``$NOTIFY_SOCKET``.

    True when the datagram was sent; False when not under systemd or on any error
    (logged). Never raises: a status line is not worth a crash."""
    target = os.environ.get("NOTIFY_SOCKET")
    if not target or not states:
        return False
    address = _notify_address(target)
    if address is None:
        logger.warning("NOTIFY_SOCKET=%r is not a unix socket path; not notifying", target)
        return False
    payload = "\n".join(states).encode("utf-8", "replace")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            # A full receive queue would block a plain send; bound it instead.
            sock.settimeout(_SEND_TIMEOUT_S)
            sock.sendto(payload, address)
    except OSError as exc:
        logger.warning("sd_notify to %s failed: %s", target, exc)
        return False
    return True


def _one_line(text: str) -> str:
    # A newline would start a new KEY=VALUE assignment in the datagram.
    return " ".join(text.splitlines())


def ready(status: str | None = None) -> bool:
    """Start-up finished: systemd moves a Type=notify unit to "active"."""
    if status is None:
        return notify("READY=1")
    return notify("READY=1", f"STATUS={_one_line(status)}")


def stopping() -> bool:
    """Shutdown has begun (sent on SIGTERM, before draining)."""
    return notify("STOPPING=1")


def monotonic_usec() -> int:
    """CLOCK_MONOTONIC in microseconds, the clock systemd compares MONOTONIC_USEC with."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def reloading() -> bool:
    """A reload (SIGHUP) has begun; send :func:`ready` when it is done.

    MONOTONIC_USEC is what systemd >= 253 requires for Type=notify-reload; older
    versions ignore it."""
    return notify("RELOADING=1", f"MONOTONIC_USEC={monotonic_usec()}")


def status(text: str) -> bool:
    """Free-form status shown by ``systemctl status``."""
    return notify(f"STATUS={_one_line(text)}")


def watchdog_ping() -> bool:
    """Tell systemd the daemon is alive (resets the WatchdogSec= timer)."""
    return notify("WATCHDOG=1")


def mainpid(pid: int) -> bool:
    """Tell systemd which process is the service's main process."""
    return notify(f"MAINPID={pid}")


# --- watchdog -------------------------------------------------------------------------


def watchdog_interval() -> float | None:
    """The watchdog timeout in seconds, or None when there is no watchdog for us.

    ``$WATCHDOG_PID``, when set, must be our pid: the variable may have been inherited
    by a process that is not the one systemd watches."""
    raw = os.environ.get("WATCHDOG_USEC")
    if not raw:
        return None
    pid = os.environ.get("WATCHDOG_PID")
    if pid:
        try:
            if int(pid) != os.getpid():
                return None
        except ValueError:
            logger.warning("WATCHDOG_PID=%r is not a pid; ignoring the watchdog", pid)
            return None
    try:
        usec = int(raw)
    except ValueError:
        logger.warning("WATCHDOG_USEC=%r is not a number; ignoring the watchdog", raw)
        return None
    if usec <= 0:
        return None
    return usec / 1_000_000


class Watchdog:
    """Pings systemd's watchdog at half its timeout from the event loop.

    No thread on purpose: if the loop stalls, the pings stop and systemd restarts the
    service, which is the point of a watchdog. ``interval`` overrides the environment
    (seconds); by default it comes from :func:`watchdog_interval`."""

    def __init__(self, interval: float | None = None) -> None:
        self._interval = interval
        self._handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._period = 0.0
        self.pings = 0
        """Pings sent so far (for ``daemon.status``)."""

    @property
    def interval(self) -> float | None:
        return self._interval if self._interval is not None else watchdog_interval()

    @property
    def running(self) -> bool:
        return self._handle is not None

    def start(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Ping now and every half interval; False (nothing scheduled) when there is no
        watchdog. Call from the loop's thread."""
        interval = self.interval
        if interval is None or interval <= 0:
            return False
        self.stop()
        self._loop = loop
        self._period = interval / 2
        logger.debug("watchdog every %.3fs (timeout %.3fs)", self._period, interval)
        self._tick()
        return True

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _tick(self) -> None:
        if watchdog_ping():
            self.pings += 1
        assert self._loop is not None
        self._handle = self._loop.call_later(self._period, self._tick)


# --- socket activation ----------------------------------------------------------------


def _unset_listen_env() -> None:
    for var in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(var, None)


def _passed_count(env: Mapping[str, str]) -> int:
    pid_raw = env.get("LISTEN_PID")
    if not pid_raw:
        return 0
    try:
        pid = int(pid_raw)
        count = int(env.get("LISTEN_FDS", "0"))
    except ValueError:
        logger.warning(
            "ignoring socket activation: LISTEN_PID=%r LISTEN_FDS=%r",
            pid_raw,
            env.get("LISTEN_FDS"),
        )
        return 0
    if pid != os.getpid():
        return 0
    return max(count, 0)


def listen_fds_with_names(unset_env: bool = True) -> list[ListenSocket]:
    """The sockets passed by socket activation, in order, with their names
    (``sd_listen_fds_with_names``).

    Empty unless ``$LISTEN_PID`` is our pid. Each fd is made close-on-exec so task
    processes never inherit it. ``unset_env`` removes the ``LISTEN_*`` variables (in
    every case, as ``sd_listen_fds`` does) so children do not see them either.
    Raises :class:`UnsupportedSocket` if a passed fd is not a socket at all."""
    try:
        count = _passed_count(os.environ)
        if count == 0:
            return []
        names = os.environ.get("LISTEN_FDNAMES", "").split(":")
    finally:
        if unset_env:
            _unset_listen_env()
    if len(names) != count:
        if names != [""]:
            logger.warning("LISTEN_FDNAMES has %d names for %d fds", len(names), count)
        names = [*names, *["unknown"] * count][:count]
    result: list[ListenSocket] = []
    for offset in range(count):
        fd = SD_LISTEN_FDS_START + offset
        name = names[offset] or "unknown"
        try:
            os.set_inheritable(fd, False)
            sock = socket.socket(fileno=fd)
        except OSError as exc:
            raise UnsupportedSocket(f"passed fd {fd} ({name!r}) is not a socket: {exc}") from exc
        result.append(ListenSocket(name, sock))
    return result


def listen_fds(unset_env: bool = True) -> list[socket.socket]:
    """The sockets passed by socket activation, in order (``sd_listen_fds``); see
    :func:`listen_fds_with_names` for the rules and for their names."""
    return [sock for _, sock in listen_fds_with_names(unset_env)]


def describe(sock: socket.socket) -> str:
    """A short human form such as ``AF_INET SOCK_DGRAM 127.0.0.1:53`` for errors."""
    try:
        where = sock.getsockname()
    except OSError:
        where = "?"
    return f"{sock.family.name} {sock.type.name} {where!r}"


def activation_socket(unset_env: bool = True) -> socket.socket | None:
    """The listening AF_UNIX stream socket to serve on, or None if not socket-activated.

    The first passed AF_UNIX stream socket is used. A passed socket of any other kind
    (``ListenStream=8080``, ``ListenDatagram=``, ``Accept=yes``) is a unit misconfigured
    for seqd and raises :class:`UnsupportedSocket` rather than being silently ignored."""
    passed = listen_fds_with_names(unset_env)
    chosen: socket.socket | None = None
    try:
        for name, sock in passed:
            listening = sock.type == socket.SOCK_STREAM and bool(
                sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
            )
            if sock.family != socket.AF_UNIX or not listening:
                raise UnsupportedSocket(
                    f"socket {name!r} ({describe(sock)}) passed by systemd is not a "
                    "listening AF_UNIX stream socket; seqd needs ListenStream=/path, Accept=no"
                )
            if chosen is None:
                chosen = sock
            else:
                logger.warning("ignoring extra activation socket %r (%s)", name, describe(sock))
    except BaseException:
        for _, sock in passed:
            sock.close()
        raise
    for _, sock in passed:
        if sock is not chosen:
            sock.close()
    return chosen
