"""Where ``http.request`` may connect: global addresses only, unless allowed.

Every connection — the first request and each redirect — resolves the host once,
checks every address it got, and connects to a checked address itself, so a name that
resolves to a public address at the check and to ``127.0.0.1`` at the connect (DNS
rebinding) gets nowhere. Refused by default: loopback, private (RFC 1918), link-local,
unique-local (``fc00::/7``), multicast, unspecified, reserved and every other
non-global range, also when written as an IPv4-mapped IPv6 address (``::ffff:127.0.0.1``)
or carried inside 6to4/Teredo. ``[tools] http_allow_private`` allows them all;
``http_allow_networks`` (also per task) allows the networks it names.

Its own module because it is the part of the tool that keeps tasks off the machine's
own services (the local PostgreSQL port, cloud metadata addresses), and it plugs into
``urllib`` as connection classes whatever the request is.
"""

from __future__ import annotations

import functools
import http.client
import ipaddress
import socket
import urllib.request
from collections.abc import Iterable
from typing import Any

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class AddressRefused(OSError):
    """Every address of a host is one the caller may not reach."""

    def __init__(self, host: str, address: str, why: str) -> None:
        super().__init__(f"{host} resolves to {address}, a {why} address")
        self.host = host
        self.address = address
        self.why = why


def _embedded(ip: IP) -> IP:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, Teredo), else itself."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip.teredo is not None:
            return ip.teredo[1]
    return ip


class AddressPolicy:
    def __init__(self, allow_private: bool = False, networks: Iterable[str] = ()) -> None:
        self.allow_private = allow_private
        self.networks: list[Network] = [ipaddress.ip_network(n, strict=False) for n in networks]

    def refusal(self, ip: IP) -> str | None:
        """Why ``ip`` may not be reached (``loopback``, ``private``...), or None."""
        inner = _embedded(ip)
        if any(ip in net or inner in net for net in self.networks) or self.allow_private:
            return None
        for candidate in dict.fromkeys((inner, ip)):
            why = _kind(candidate)
            if why is not None:
                return why
        return None


def _kind(ip: IP) -> str | None:
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "non-global"
    return None


def open_checked(
    host: str, port: int, timeout: float | None, policy: AddressPolicy
) -> socket.socket:
    """A socket connected to an allowed address of ``host`` (tried in the resolver's
    order); ``AddressRefused`` when there is none."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    refused: AddressRefused | None = None
    last: OSError | None = None
    for family, kind, proto, _, sockaddr in infos:
        address = str(sockaddr[0])
        why = policy.refusal(ipaddress.ip_address(address.split("%", 1)[0]))
        if why is not None:
            refused = refused or AddressRefused(host, address, why)
            continue
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    if last is not None:
        raise last
    raise refused or OSError(f"{host}: no address to connect to")


class _CheckedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, policy: AddressPolicy, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.policy = policy

    def connect(self) -> None:
        self.sock = open_checked(self.host, self.port, self.timeout, self.policy)


class _CheckedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, policy: AddressPolicy, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.policy = policy

    def connect(self) -> None:
        sock = open_checked(self.host, self.port, self.timeout, self.policy)
        # The certificate is checked against the name, not the address connected to.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


class CheckedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, policy: AddressPolicy) -> None:
        super().__init__()
        self.policy = policy

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(_CheckedHTTPConnection, policy=self.policy), req)


class CheckedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, policy: AddressPolicy) -> None:
        super().__init__()
        self.policy = policy

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        connection = functools.partial(_CheckedHTTPSConnection, policy=self.policy)
        return self.do_open(connection, req, context=self._context)  # type: ignore[attr-defined]
