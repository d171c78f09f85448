"""``http.request`` and the machine's own services (issue 18, item 7): loopback,
private, link-local, unique-local, multicast and the other non-global addresses are
refused unless the config allows them — written any way (IPv4-mapped IPv6, 6to4), by
name or by redirect — and the address checked is the one connected to."""

from __future__ import annotations

import ipaddress
import os
from typing import Any

import pytest

from seqd.builtin.tools.netguard import AddressPolicy
from seqd.errors import PermissionDenied
from tests.tools.conftest import RPC, Env

REFUSED = {
    "127.0.0.1": "loopback",
    "127.8.9.10": "loopback",
    "::1": "loopback",
    "::ffff:127.0.0.1": "loopback",
    "10.1.2.3": "private",
    "172.16.0.1": "private",
    "192.168.1.1": "private",
    "169.254.169.254": "link-local",  # cloud metadata
    "fe80::1": "link-local",
    "fc00::1": "private",
    "fd12:3456::1": "private",
    "224.0.0.1": "multicast",
    "ff02::1": "multicast",
    "0.0.0.0": "unspecified",
    "::": "unspecified",
    "100.64.0.1": "non-global",  # carrier-grade NAT
    "2002:7f00:1::1": "loopback",  # 6to4 wrapping 127.0.0.1
    "::ffff:10.0.0.1": "private",
    "240.0.0.1": "reserved",
}


@pytest.mark.parametrize(("address", "why"), sorted(REFUSED.items()))
def test_non_global_addresses_are_refused(address: str, why: str) -> None:
    assert AddressPolicy().refusal(ipaddress.ip_address(address)) == why


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_global_addresses_pass(address: str) -> None:
    assert AddressPolicy().refusal(ipaddress.ip_address(address)) is None


def test_the_config_opens_ranges() -> None:
    assert AddressPolicy(allow_private=True).refusal(ipaddress.ip_address("127.0.0.1")) is None
    some = AddressPolicy(networks=["10.0.0.0/8", "127.0.0.1/32"])
    assert some.refusal(ipaddress.ip_address("10.9.9.9")) is None
    assert some.refusal(ipaddress.ip_address("::ffff:127.0.0.1")) is None  # same address
    assert some.refusal(ipaddress.ip_address("127.0.0.2")) == "loopback"
    assert some.refusal(ipaddress.ip_address("192.168.0.1")) == "private"


@pytest.fixture
def env(tmp_path: Any) -> Env:
    """An in-process tool service's surroundings (as in tests/tools)."""
    (tmp_path / "state").mkdir()
    return Env(tmp_path)


def call(env: Env, params: dict[str, Any], **config: Any) -> Any:
    async def main() -> Any:
        async with env.service(**config) as svc:
            return await svc.call("http.request", params, RPC)

    return env.run(main())


def postgres_port() -> int:
    return int(os.environ.get("SEQD_TEST_POSTGRES_PORT", "5432"))


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/",  # the local PostgreSQL of the report
        "http://localhost:{port}/",  # by name: resolved, then checked
        "http://[::ffff:127.0.0.1]:{port}/",
        "http://[::1]:{port}/",
        "http://2130706433:{port}/",  # 127.0.0.1 as one number
    ],
)
def test_the_local_database_port_is_out_of_reach(env: Env, url: str) -> None:
    with pytest.raises(PermissionDenied) as info:
        call(env, {"url": url.format(port=postgres_port()), "timeout_s": 5})
    assert info.value.details["why"] == "loopback"
    assert info.value.details["field"] == "params.url"


def test_a_redirect_to_a_refused_address_is_refused(env: Env) -> None:
    """An allowed server answers with a redirect to loopback: refused at the redirect,
    though the first address was allowed (only 127.0.0.1 is)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Redirect(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.2:{postgres_port()}/")
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        allowed = {"http_allow_networks": ["127.0.0.1/32"]}
        assert call(env, {"url": url}, **allowed)["status"] == 302  # not followed
        with pytest.raises(PermissionDenied) as info:
            call(env, {"url": url, "follow_redirects": True}, **allowed)
        assert info.value.details["address"] == "127.0.0.2"
    finally:
        server.shutdown()
        server.server_close()


def test_a_run_of_a_task_gets_its_own_networks(make_daemon: Any, tmp_path: Any) -> None:
    """Through a real daemon: refused by default, allowed for the one task whose
    policy names the network."""
    config = tmp_path / "seqd.toml"
    config.write_text('[tools.tasks.allowed]\nhttp_allow_networks = ["127.0.0.0/8"]\n')
    from tests.security.conftest import task_folder

    code = (
        "def run(ctx, url):\n"
        "    try:\n"
        "        return ctx.tool('http.request', url=url, timeout_s=5)['status']\n"
        "    except Exception as exc:\n"
        "        return type(exc).__name__ + ': ' + str(exc)\n"
    )
    tasks = tmp_path / "tasks"
    task_folder(tasks, "allowed", '{"type": "python"}', code)
    task_folder(tasks, "denied", '{"type": "python"}', code)
    d = make_daemon(tasks=[tasks], args=["--config", str(config)])
    with d.client() as c:
        url = f"http://127.0.0.1:{postgres_port()}/"
        denied = c.submit("denied", {"url": url}, wait=True).output
        allowed = c.submit("allowed", {"url": url}, wait=True).output
    assert "loopback address" in denied
    assert "loopback" not in str(allowed)  # it connected (and PostgreSQL spoke no HTTP)
