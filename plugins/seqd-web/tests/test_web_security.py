"""The dashboard's guards, over plain HTTP against a real daemon: nothing without a
login, no action without the session's CSRF token, a reader's token acting as a
reader (it cannot cancel another user's run), revoked tokens ending logins, the
headers that keep scripts to the page's own files, and ``[web]`` refused when it
would listen beyond this machine."""

from __future__ import annotations

import http.client
import json
import re
import socket
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from web_harness import CONFIG, Web, start_daemon

from seqd.client import Client


class Http:
    """A tiny cookie-keeping client that does not follow redirects."""

    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        self.host, self.port = parts.hostname or "", parts.port or 80
        self.cookie = ""

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], str]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        sent = dict(headers or {})
        if self.cookie:
            sent["Cookie"] = self.cookie
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        text = response.read().decode()
        got = {k.lower(): v for k, v in response.getheaders()}
        conn.close()
        if "set-cookie" in got:
            self.cookie = got["set-cookie"].split(";", 1)[0]
        return response.status, got, text

    def form(self, path: str, fields: dict[str, str]) -> tuple[int, dict[str, str], str]:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        return self.request("POST", path, urlencode(fields).encode(), headers)

    def login(self, token: str) -> str:
        """Log in; returns the session's CSRF token (from a page's meta tag)."""
        status, headers, _ = self.form("/login", {"token": token})
        assert status == 303, status
        cookie = headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        _, _, page = self.request("GET", "/runs")
        found = re.search(r'name="csrf-token" content="([^"]+)"', page)
        assert found is not None
        return found.group(1)


def slow_run(web: Web) -> str:
    run = json.loads(web.seqctl("run", "slow", "-i", "seconds:=60", "--detach", "--json"))
    return str(run["id"])


def test_unauthenticated_requests_are_refused(web: Web) -> None:
    client = Http(web.url)
    status, headers, _ = client.request("GET", "/runs")
    assert (status, headers["location"]) == (303, "/login")
    for path in ("/tasks/hello", "/alerts", "/nodes", "/nodes/table", "/runs/table"):
        assert client.request("GET", path)[0] == 303
    assert client.request("GET", "/events?topics=run")[0] == 401
    assert client.request("POST", "/rpc/daemon.status", b"{}")[0] == 401
    status, _, text = client.form("/login", {"token": "seqd_000000000000_forged"})
    assert status == 401 and "unknown, expired or revoked" in text
    status, headers, _ = client.request("GET", "/login")
    assert status == 200
    # A page of another name pointed at this machine (DNS rebinding) gets nothing.
    assert client.request("GET", "/login", headers={"Host": "evil.example:80"})[0] == 421
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_actions_need_the_csrf_token(web: Web) -> None:
    run_id = slow_run(web)
    client = Http(web.url)
    csrf = client.login(web.token())
    assert client.form(f"/runs/{run_id}/cancel", {})[0] == 403
    assert client.form(f"/runs/{run_id}/cancel", {"csrf": "not-the-token"})[0] == 403
    status, _, _ = client.request("POST", "/rpc/runs.cancel", json.dumps({"id": run_id}).encode())
    assert status == 403
    assert json.loads(web.seqctl("runs", "show", run_id, "--json"))["status"] == "running"
    # A cross-site login form is refused whatever token it carries.
    status, _, _ = client.request(
        "POST", "/login", b"token=x",
        {"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://evil.example"},
    )  # fmt: skip
    assert status == 403
    status, _, _ = client.form(f"/runs/{run_id}/cancel", {"csrf": csrf})
    assert status == 303
    assert json.loads(web.seqctl("runs", "show", run_id, "--json"))["status"] == "cancelled"


def test_a_readers_token_acts_as_a_reader(web: Web, other_user: str) -> None:
    run_id = slow_run(web)  # root's run
    client = Http(web.url)
    csrf = client.login(web.token(user=other_user))
    _, _, page = client.request("GET", "/runs")
    assert f"{other_user} (reader)" in page
    status, _, text = client.form(f"/runs/{run_id}/cancel", {"csrf": csrf})
    assert status == 403 and "operator" in text
    status, _, text = client.form("/tasks/hello/submit", {"csrf": csrf, "name": "Eve"})
    assert status == 403
    # It sees the run, but not its logs and journal, as with seqctl.
    status, _, text = client.request("GET", f"/runs/{run_id}")
    assert status == 200 and "Only shown to its submitter and admins" in text
    assert 'id="logs"' not in text
    # Another user's log lines are not streamed to it either.
    assert client.request("GET", f"/events?topics=log&run_id={run_id}")[0] == 403
    # Nor can the page mint itself a token.
    headers = {"X-CSRF-Token": csrf, "Content-Type": "application/json"}
    assert client.request("POST", "/rpc/tokens.create", b"{}", headers)[0] == 403
    assert json.loads(web.seqctl("runs", "show", run_id, "--json"))["status"] == "running"
    # Tokens are each user's own: it lists only its own and cannot revoke root's;
    # root, an admin, sees and may revoke every one.
    roots = web.token().split("_")[1]
    listed = json.loads(web.seqctl("web", "tokens", "--json", user=other_user))["tokens"]
    assert roots not in {t["id"] for t in listed} and len(listed) == 1
    web.seqctl("web", "revoke", roots, user=other_user, status=4)
    everyone = json.loads(web.seqctl("web", "tokens", "--json"))["tokens"]
    assert listed[0]["id"] in {t["id"] for t in everyone}
    web.seqctl("web", "revoke", listed[0]["id"])
    assert client.request("GET", "/runs")[0] == 303  # and its login is over


def test_revoking_the_token_ends_the_login(web: Web) -> None:
    token = web.token()
    client = Http(web.url)
    client.login(token)
    assert client.request("GET", "/nodes")[0] == 200
    token_id = token.split("_")[1]
    web.seqctl("web", "revoke", token_id)
    assert client.request("GET", "/nodes")[0] == 303
    assert token_id not in web.seqctl("web", "tokens")


def test_logout_ends_the_session(web: Web) -> None:
    client = Http(web.url)
    csrf = client.login(web.token())
    session = client.cookie
    assert client.form("/logout", {"csrf": csrf})[0] == 303
    client.cookie = session  # the old cookie, replayed
    assert client.request("GET", "/runs")[0] == 303


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('listen = "0.0.0.0:8470"', "not a loopback address"),
        ('listen = "8470"', "is not HOST:PORT"),
        ('lisen = "127.0.0.1:8470"', "lisen"),
        ("session_ttl_s = 5", "session_ttl_s"),
    ],
)
def test_bad_web_config_stops_the_daemon(tmp_path: Path, table: str, message: str) -> None:
    config = CONFIG.replace('listen = "127.0.0.1:0"', table)
    proc, log, _ = start_daemon(tmp_path, config)
    assert proc.wait(30) == 2
    text = log.read_text()
    assert "[web]" in text and message in text, text


def test_remote_listen_when_allowed(tmp_path: Path) -> None:
    config = CONFIG.replace('listen = "127.0.0.1:0"', 'listen = "0.0.0.0:0"\nallow_remote = true')
    proc, log, _ = start_daemon(tmp_path, config)
    try:
        deadline = time.monotonic() + 30
        while "web dashboard: http://0.0.0.0:" not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(30)


def test_a_closed_stream_ends_its_subscription(web: Web) -> None:
    """A live page's subscription lives as long as its stream: when the browser goes
    away, the daemon stops sending (and holding) its events."""
    client = Http(web.url)
    client.login(web.token())
    conn = http.client.HTTPConnection(client.host, client.port, timeout=30)
    conn.request("GET", "/events?topics=run", headers={"Cookie": client.cookie})
    response = conn.getresponse()
    assert response.status == 200
    assert response.getheader("content-type", "").startswith("text/event-stream")
    assert response.readline() == b": subscribed\n"

    def subscriptions() -> int:
        return int(json.loads(web.seqctl("status", "--json"))["subscriptions"])

    assert subscriptions() == 1
    conn.close()
    deadline = time.monotonic() + 20
    while subscriptions() != 0:
        assert time.monotonic() < deadline, "the subscription outlived its stream"
        time.sleep(0.1)


def test_an_address_in_use_leaves_the_daemon_running(tmp_path: Path) -> None:
    """The dashboard's port is taken: the plugin's start-up error is logged with its
    name, and the daemon serves its socket without a dashboard."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        config = CONFIG.replace('listen = "127.0.0.1:0"', f'listen = "127.0.0.1:{port}"')
        proc, log, sock = start_daemon(tmp_path, config)
        try:
            deadline = time.monotonic() + 30
            while "ready: listening" not in log.read_text():
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.05)
            text = log.read_text()
            assert "web" in text and "Address already in use" in text, text
            assert "web dashboard: http" not in text
            with Client(sock, timeout=10) as c:
                assert c.ping() == "pong"
        finally:
            proc.terminate()
            proc.wait(30)
