"""systemd integration: the unit files (checked by systemd's own tools), sd_notify,
the watchdog, socket activation, and the daemon's side of all three.

No systemd runs as PID 1 here, and none is needed:

- ``systemd-analyze verify`` loads unit files into a throw-away manager and reports what
  it would reject. It resolves ``Also=``/``Service=`` references from the directories of
  the files named, so each unit is verified with its pair beside it in ``tmp_path``.
  It insists that ``ExecStart``'s binary exists, so the copies get the installed ``seqd``
  console script in place of ``/usr/bin/seqd`` — that one path, nothing else. User units
  need ``--user`` and an ``$XDG_RUNTIME_DIR`` (a private dir in ``tmp_path``); without it
  the user manager cannot initialise ("Failed to lookup RuntimeDirectory path").
  Unknown keys and unparsable values only warn (exit 0), so stderr must be clean as well.
- ``systemd-analyze security --offline=yes`` scores the hardening from the file alone.
- ``systemd-socket-activate -l PATH CMD`` binds PATH, waits for the first connection,
  then execs CMD with LISTEN_FDS/LISTEN_PID set, exactly as a socket unit would. It
  passes on only TERM, PATH, HOME and the ``-E`` variables.
- An AF_UNIX datagram socket in ``tmp_path`` plays systemd's notify socket.
"""

from __future__ import annotations

import asyncio
import configparser
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from seqd.config import paths
from seqd.config.settings import ConfigError
from seqd.daemon import systemd as sd

ROOT = Path(__file__).resolve().parent.parent
UNITS = ROOT / "systemd"
SYSTEM_UNITS = [UNITS / "seqd.service", UNITS / "seqd.socket"]
USER_UNITS = [UNITS / "user" / "seqd.service", UNITS / "user" / "seqd.socket"]
USER_SANDBOX = UNITS / "user" / "seqd.service.d" / "sandbox.conf"
SOCKET_ACTIVATE = shutil.which("systemd-socket-activate") or "/usr/bin/systemd-socket-activate"
# systemd-socket-activate passes on only TERM, PATH, HOME and what -E names.
PASS_ENV = [f"--setenv={v}" for v in ("PYTHONPATH",) if v in os.environ]
ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
EXEC_START = re.compile(r"^ExecStart=(/opt/seqd/bin/seqd|%h/\.local/bin/seqd)$", re.MULTILINE)

needs_analyze = pytest.mark.skipif(not os.path.exists(ANALYZE), reason="no systemd-analyze")
needs_activate = pytest.mark.skipif(
    not os.path.exists(SOCKET_ACTIVATE), reason="no systemd-socket-activate"
)


# --- helpers ---------------------------------------------------------------------------


def installed_seqd() -> str:
    found = shutil.which("seqd") or str(Path(sys.prefix) / "bin" / "seqd")
    assert os.access(found, os.X_OK), f"seqd console script not installed at {found}"
    return found


def copy_units(units: list[Path], dest: Path) -> list[Path]:
    """Copy ``units`` into ``dest``, pointing ExecStart at the installed seqd."""
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for unit in units:
        text = unit.read_text()
        if unit.suffix == ".service":
            assert len(EXEC_START.findall(text)) == 1, f"{unit}: expected one ExecStart"
            new = EXEC_START.sub(f"ExecStart={installed_seqd()}", text)
            changed = [
                (a, b) for a, b in zip(text.splitlines(), new.splitlines(), strict=True) if a != b
            ]
            assert len(changed) == 1 and changed[0][0].startswith("ExecStart="), changed
            text = new
        (dest / unit.name).write_text(text)
        out.append(dest / unit.name)
    return out


def analyze(
    args: list[str], cwd: Path, user_runtime: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYSTEMD_", "XDG_"))}
    cmd = [ANALYZE]
    if user_runtime is not None:
        user_runtime.mkdir(mode=0o700, exist_ok=True)
        env["XDG_RUNTIME_DIR"] = str(user_runtime)
        cmd.append("--user")
    return subprocess.run(
        [*cmd, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


def ours(stderr: str, names: list[str]) -> list[str]:
    """Lines of verify's stderr about our units (other units on the machine may warn)."""
    return [ln for ln in stderr.splitlines() if any(n in ln for n in names)]


def parse_unit(path: Path) -> configparser.ConfigParser:
    cp = configparser.ConfigParser(interpolation=None, strict=True, empty_lines_in_values=False)
    cp.optionxform = str  # type: ignore[assignment,method-assign]
    cp.read_string(path.read_text())
    return cp


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A bound datagram socket standing in for systemd's, named by $NOTIFY_SOCKET."""
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(10)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield sock
    sock.close()


def recv_text(sock: socket.socket) -> str:
    return sock.recv(65536).decode()


def drain(sock: socket.socket) -> list[str]:
    got = []
    sock.setblocking(False)
    try:
        while True:
            got.append(sock.recv(65536).decode())
    except BlockingIOError:
        pass
    finally:
        sock.settimeout(10)
    return got


def connect_unix(
    path: Path | str, proc: subprocess.Popen[bytes] | None = None, timeout: float = 20
) -> socket.socket:
    """Connect, retrying while the listener is not there yet: the socket file appears at
    bind(), a moment before listen(), and refuses connections in between."""
    deadline = time.monotonic() + timeout
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(path))
            return sock
        except (ConnectionRefusedError, FileNotFoundError):
            sock.close()
            assert proc is None or proc.poll() is None, f"exited early: {proc.returncode}"
            assert time.monotonic() < deadline, f"nobody listens on {path}"
            time.sleep(0.02)


def rpc_ping(path: Path | str, proc: subprocess.Popen[bytes] | None = None) -> object:
    """``daemon.ping`` as raw JSON-RPC, independent of seqd.client."""
    with connect_unix(path, proc) as s:
        s.settimeout(60)
        s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"daemon.ping"}\n')
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    return json.loads(buf)


def wait_for_path(path: Path, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f"exited early: {proc.returncode}"
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)


# --- unit files ------------------------------------------------------------------------


@needs_analyze
def test_system_units_verify(tmp_path: Path) -> None:
    copied = copy_units(SYSTEM_UNITS, tmp_path / "system")
    res = analyze(["verify", *map(str, copied)], cwd=tmp_path / "system")
    assert res.returncode == 0, res.stderr
    assert ours(res.stderr, ["seqd", str(tmp_path)]) == []


@needs_analyze
def test_user_units_verify(tmp_path: Path) -> None:
    copied = copy_units(USER_UNITS, tmp_path / "user")
    res = analyze(
        ["verify", *map(str, copied)], cwd=tmp_path / "user", user_runtime=tmp_path / "rt"
    )
    assert res.returncode == 0, res.stderr
    assert ours(res.stderr, ["seqd", str(tmp_path)]) == []


@needs_analyze
def test_verify_catches_a_broken_unit(tmp_path: Path) -> None:
    """The check above can fail: a missing binary is an error, a bad value a warning."""
    copied = copy_units(SYSTEM_UNITS, tmp_path)
    service = copied[0]
    good = service.read_text()
    service.write_text(good.replace(installed_seqd(), str(tmp_path / "no-such-seqd")))
    assert analyze(["verify", str(service)], cwd=tmp_path).returncode != 0
    service.write_text(good.replace("WatchdogSec=30s", "WatchdogSec=soon"))
    res = analyze(["verify", str(service)], cwd=tmp_path)
    assert ours(res.stderr, ["seqd"]), res.stderr


@needs_analyze
def test_system_service_hardening_score(tmp_path: Path) -> None:
    """``systemd-analyze security`` exits non-zero above the threshold, so dropping a
    hardening line (or adding a risky one) shows up here. The scale is 0-100 here (the
    printed 3.3 is 33; an unhardened service scores about 95)."""
    copied = copy_units(SYSTEM_UNITS, tmp_path)
    res = analyze(
        ["security", "--offline=yes", "--threshold=25", "--no-pager", str(copied[0])],
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stdout + res.stderr


@needs_analyze
@pytest.mark.parametrize(("sandbox", "threshold"), [(False, 70), (True, 30)])
def test_user_service_hardening_score(tmp_path: Path, sandbox: bool, threshold: int) -> None:
    """The user unit alone uses what any user manager can apply (seccomp, no new
    privileges): 9.6 UNSAFE before, under 7 now. With the optional sandbox drop-in
    (unprivileged user namespaces), under 3."""
    copied = copy_units(USER_UNITS, tmp_path / "user")
    if sandbox:
        dropins = tmp_path / "user" / "seqd.service.d"
        dropins.mkdir()
        shutil.copy(USER_SANDBOX, dropins / USER_SANDBOX.name)
    res = analyze(
        ["security", "--offline=yes", f"--threshold={threshold}", "--no-pager", str(copied[0])],
        cwd=tmp_path / "user",
        user_runtime=tmp_path / "rt",
    )
    assert res.returncode == 0, res.stdout + res.stderr
    verified = analyze(
        ["verify", *map(str, copied)], cwd=tmp_path / "user", user_runtime=tmp_path / "rt"
    )
    assert verified.returncode == 0, verified.stderr
    assert ours(verified.stderr, ["seqd", str(tmp_path)]) == []


def test_units_agree_with_each_other_and_with_paths() -> None:
    service, sock = (parse_unit(p) for p in SYSTEM_UNITS)
    svc, skt = service["Service"], sock["Socket"]
    assert skt["ListenStream"] == paths.SYSTEM_SOCKET
    assert os.path.dirname(paths.SYSTEM_SOCKET) == "/run/" + svc["RuntimeDirectory"]
    assert svc["RuntimeDirectoryPreserve"] == "yes"
    assert "/var/lib/" + svc["StateDirectory"] == paths.SYSTEM_STATE
    assert os.path.dirname(paths.SYSTEM_CONFIG) == "/etc/" + svc["ConfigurationDirectory"]
    assert (skt["SocketUser"], skt["SocketGroup"]) == (svc["User"], svc["Group"])
    assert skt["SocketMode"] == "0660" and skt["Accept"] == "no"
    assert svc["Type"] == "notify" and svc["NotifyAccess"] == "main"
    assert svc["KillMode"] == "mixed"
    for absent in ("ProcSubset", "MemoryDenyWriteExecute", "DynamicUser"):
        assert absent not in svc, absent

    user_service, user_sock = (parse_unit(p) for p in USER_UNITS)
    usvc, uskt = user_service["Service"], user_sock["Socket"]
    assert uskt["ListenStream"] == f"%t/{usvc['RuntimeDirectory']}/{paths.SOCKET_NAME}"
    assert "User" not in usvc and "StateDirectory" not in usvc
    assert user_service["Install"]["WantedBy"] == "default.target"


@pytest.mark.skipif(not shutil.which("systemd-sysusers"), reason="no systemd-sysusers")
def test_sysusers_creates_the_socket_owner(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    conf = UNITS / "sysusers.d" / "seqd.conf"
    res = subprocess.run(
        ["systemd-sysusers", f"--root={tmp_path}", str(conf)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    user = parse_unit(SYSTEM_UNITS[0])["Service"]["User"]
    passwd = {
        ln.split(":")[0]: ln.split(":") for ln in (tmp_path / "etc/passwd").read_text().splitlines()
    }
    groups = [ln.split(":")[0] for ln in (tmp_path / "etc/group").read_text().splitlines()]
    assert user in passwd and user in groups
    assert passwd[user][5] == paths.SYSTEM_STATE


# --- sd_notify -------------------------------------------------------------------------


def test_notify_sends_one_datagram(notify_socket: socket.socket) -> None:
    assert sd.notify("READY=1", "STATUS=serving") is True
    assert recv_text(notify_socket) == "READY=1\nSTATUS=serving"
    assert sd.ready("up\nand running") is True
    assert recv_text(notify_socket) == "READY=1\nSTATUS=up and running"
    assert sd.ready()
    assert recv_text(notify_socket) == "READY=1"
    assert sd.stopping()
    assert recv_text(notify_socket) == "STOPPING=1"
    assert sd.status("3 runs")
    assert recv_text(notify_socket) == "STATUS=3 runs"
    assert sd.watchdog_ping()
    assert recv_text(notify_socket) == "WATCHDOG=1"
    assert sd.mainpid(4242)
    assert recv_text(notify_socket) == "MAINPID=4242"


def test_reloading_carries_monotonic_usec(notify_socket: socket.socket) -> None:
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert sd.reloading()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    first, second = recv_text(notify_socket).split("\n")
    assert first == "RELOADING=1"
    key, value = second.split("=")
    assert key == "MONOTONIC_USEC" and before <= int(value) <= after


def test_notify_credentials_are_the_main_pid(notify_socket: socket.socket) -> None:
    """NotifyAccess=main: systemd trusts the sender's pid from SCM_CREDENTIALS."""
    notify_socket.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    assert sd.ready()
    _, ancdata, _, _ = notify_socket.recvmsg(4096, socket.CMSG_SPACE(12))
    creds = [d for level, kind, d in ancdata if kind == socket.SCM_CREDENTIALS]
    assert creds and struct.unpack("iII", creds[0][:12])[0] == os.getpid()


def test_notify_abstract_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"seqd-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(10)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert sd.ready("abstract")
        assert recv_text(sock) == "READY=1\nSTATUS=abstract"


def test_notify_without_systemd_is_false(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert sd.notify("READY=1") is False
    assert sd.ready("x") is False
    assert sd.watchdog_ping() is False


def test_notify_to_a_dead_socket_is_false_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    dead = tmp_path / "dead.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(dead))
    assert dead.exists()  # the file stays, nobody listens: ECONNREFUSED
    monkeypatch.setenv("NOTIFY_SOCKET", str(dead))
    assert sd.ready() is False
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "missing.sock"))
    assert sd.stopping() is False
    monkeypatch.setenv("NOTIFY_SOCKET", "relative/path")
    assert sd.status("x") is False
    assert "sd_notify" in caplog.text


# --- watchdog --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("usec", "pid", "expected"),
    [
        (None, None, None),
        ("30000000", None, 30.0),
        ("30000000", "self", 30.0),
        ("30000000", "other", None),
        ("500000", "self", 0.5),
        ("0", None, None),
        ("soon", None, None),
        ("30000000", "nope", None),
    ],
)
def test_watchdog_interval(
    monkeypatch: pytest.MonkeyPatch, usec: str | None, pid: str | None, expected: float | None
) -> None:
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    if usec is not None:
        monkeypatch.setenv("WATCHDOG_USEC", usec)
    if pid is not None:
        value = {"self": str(os.getpid()), "other": str(os.getpid() + 1)}.get(pid, pid)
        monkeypatch.setenv("WATCHDOG_PID", value)
    assert sd.watchdog_interval() == expected


def test_watchdog_pings_from_the_loop(
    notify_socket: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "200000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))

    async def main() -> tuple[list[str], list[str], list[str]]:
        loop = asyncio.get_running_loop()
        dog = sd.Watchdog()
        assert dog.interval == 0.2
        assert dog.start(loop) and dog.running
        notify_socket.setblocking(False)
        pings: list[str] = []
        async with asyncio.timeout(10):
            while len(pings) < 3:
                pings.append((await loop.sock_recv(notify_socket, 4096)).decode())
        # A blocked loop sends nothing: the ping is a loop callback, not a thread.
        drain(notify_socket)
        time.sleep(0.6)  # blocks the loop on purpose, three periods long
        stalled = drain(notify_socket)
        await asyncio.sleep(0.3)
        resumed = drain(notify_socket)
        dog.stop()
        assert not dog.running
        drain(notify_socket)
        await asyncio.sleep(0.4)
        return pings, stalled, resumed, drain(notify_socket)

    pings, stalled, resumed, after_stop = asyncio.run(main())
    assert pings == ["WATCHDOG=1"] * 3
    assert stalled == []
    assert resumed and set(resumed) == {"WATCHDOG=1"}
    assert after_stop == []


def test_watchdog_without_systemd_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)

    async def main() -> bool:
        dog = sd.Watchdog()
        started = dog.start(asyncio.get_running_loop())
        assert not dog.running
        return started

    assert asyncio.run(main()) is False


# --- socket activation -----------------------------------------------------------------

ECHO_CHILD = textwrap.dedent(
    """
    import json, os, socket, sys
    from seqd.daemon import systemd as sd
    if sys.argv[1] == "names":
        passed = sd.listen_fds_with_names()
    else:
        passed = [("-", s) for s in sd.listen_fds()]
        assert all(type(s) is socket.socket for _, s in passed)
    info = {
        "names": [n for n, _ in passed],
        "fds": [s.fileno() for _, s in passed],
        "cloexec": [not os.get_inheritable(s.fileno()) for _, s in passed],
        "env_left": [v for v in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES") if v in os.environ],
        "family": [s.family.name for _, s in passed],
    }
    conn, _ = passed[0][1].accept()
    data = conn.recv(1024)
    conn.sendall(json.dumps({**info, "echo": data.decode()}).encode())
    conn.close()
    """
)


def activate(
    sock_path: Path,
    code: str,
    *extra: str,
    args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            SOCKET_ACTIVATE,
            "-l",
            str(sock_path),
            *PASS_ENV,
            *extra,
            sys.executable,
            "-c",
            code,
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    wait_for_path(sock_path, proc)
    return proc


@needs_activate
@pytest.mark.parametrize("variant", ["names", "plain"])
def test_listen_fds_serves_on_the_inherited_socket(tmp_path: Path, variant: str) -> None:
    path = tmp_path / "act.sock"
    proc = activate(path, ECHO_CHILD, "--fdname=control", args=(variant,))
    try:
        with connect_unix(path, proc) as c:
            c.settimeout(30)
            c.sendall(b"hello")
            reply = json.loads(c.recv(65536))
        assert proc.wait(30) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        stop(proc)
    assert reply == {
        "names": ["control" if variant == "names" else "-"],
        "fds": [3],
        "cloexec": [True],
        "env_left": [],
        "family": ["AF_UNIX"],
        "echo": "hello",
    }


ACTIVATION_CHILD = textwrap.dedent(
    """
    import sys
    from seqd.daemon import systemd as sd
    try:
        sock = sd.activation_socket()
    except sd.UnsupportedSocket as exc:
        print("unsupported:", exc)
        sys.exit(3)
    print("ok", sock.family.name if sock else None)
    """
)


@needs_activate
def test_activation_socket_accepts_unix_stream(tmp_path: Path) -> None:
    path = tmp_path / "ok.sock"
    proc = activate(path, ACTIVATION_CHILD)
    try:
        with connect_unix(path, proc):  # the first connection makes it exec the child
            out, err = proc.communicate(timeout=30)
    finally:
        stop(proc)
    assert proc.returncode == 0, err
    assert out.decode().strip() == "ok AF_UNIX"


@needs_activate
def test_activation_socket_rejects_a_datagram_socket(tmp_path: Path) -> None:
    path = tmp_path / "dgram.sock"
    proc = activate(path, ACTIVATION_CHILD, "--datagram")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as c:
            c.sendto(b"wake", str(path))
            out, err = proc.communicate(timeout=30)
    finally:
        stop(proc)
    assert proc.returncode == 3, err
    assert "not a listening AF_UNIX stream socket" in out.decode()
    assert issubclass(sd.UnsupportedSocket, ConfigError)


def test_listen_fds_rejects_a_non_socket_fd() -> None:
    code = textwrap.dedent(
        """
        import os
        from seqd.daemon import systemd as sd
        r, w = os.pipe()
        os.dup2(r, 3)
        os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS="1")
        try:
            sd.listen_fds()
        except sd.UnsupportedSocket as exc:
            print(exc)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert "fd 3" in out and "not a socket" in out


def test_listen_fds_for_another_pid_is_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LISTEN_PID", str(os.getpid() + 1))
    monkeypatch.setenv("LISTEN_FDS", "1")
    monkeypatch.setenv("LISTEN_FDNAMES", "x")
    assert sd.listen_fds(unset_env=False) == []
    assert sd.listen_fds_with_names(unset_env=False) == []
    assert os.environ["LISTEN_FDS"] == "1"
    assert sd.listen_fds() == []
    assert not {"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} & set(os.environ)
    monkeypatch.delenv("LISTEN_PID", raising=False)
    assert sd.listen_fds() == []
    assert sd.activation_socket() is None


# --- the daemon's side (contract for seqd.daemon.main) -----------------------------------------


@needs_activate
def test_daemon_socket_activation(make_daemon) -> None:  # type: ignore[no-untyped-def]
    """Activated, the daemon serves on the inherited socket and binds none of its own
    (its --socket path stays absent), and it leaves systemd's socket file in place on
    exit, or a restarted service would be unreachable."""
    d = make_daemon(start=False)
    activated = d.base / "activated.sock"
    log = open(d.log_path, "ab")  # noqa: SIM115
    d.proc = subprocess.Popen(
        [SOCKET_ACTIVATE, "-l", str(activated), *PASS_ENV, "-E", "SEQD_CONFIG=", *d.command()],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=d.base,
    )
    log.close()
    wait_for_path(activated, d.proc)
    reply = rpc_ping(activated, d.proc)
    assert reply == {"jsonrpc": "2.0", "id": 1, "result": "pong"}, d.log_text()
    assert not os.path.exists(d.socket), "daemon bound its own socket too"
    assert d.stop() == 0, d.log_text()
    assert activated.exists(), "daemon removed the socket systemd owns"


def test_daemon_sd_notify(make_daemon, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """READY=1 (with a STATUS) once it serves; STOPPING=1 on SIGTERM; then exit 0."""
    d = make_daemon(start=False)
    notify_path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as nsock:
        nsock.bind(str(notify_path))
        nsock.settimeout(0.5)
        log = open(d.log_path, "ab")  # noqa: SIM115
        env = {**os.environ, "SEQD_CONFIG": "", "NOTIFY_SOCKET": str(notify_path)}
        for var in ("WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_PID", "LISTEN_FDS"):
            env.pop(var, None)
        d.proc = subprocess.Popen(
            d.command(), stdout=log, stderr=subprocess.STDOUT, env=env, cwd=d.base
        )
        log.close()

        def wait_for(state: str, timeout: float = 30) -> list[str]:
            deadline = time.monotonic() + timeout
            seen: list[str] = []
            while time.monotonic() < deadline:
                try:
                    lines = nsock.recv(65536).decode().split("\n")
                except TimeoutError:
                    if d.proc.poll() is not None:  # anything it sent is queued by now
                        break
                    continue
                seen.append("\n".join(lines))
                if state in lines:
                    return lines
            raise AssertionError(f"no {state} in {seen}; log:\n{d.log_text()}")

        ready = wait_for("READY=1")
        assert any(ln.startswith("STATUS=") for ln in ready), ready
        assert rpc_ping(d.socket) == {"jsonrpc": "2.0", "id": 1, "result": "pong"}
        d.proc.send_signal(signal.SIGTERM)
        wait_for("STOPPING=1")
        assert d.proc.wait(30) == 0, d.log_text()


def test_daemon_watchdog(make_daemon, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """With $WATCHDOG_USEC set the daemon pings (from its loop) well inside the timeout."""
    d = make_daemon(start=False)
    notify_path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as nsock:
        nsock.bind(str(notify_path))
        nsock.settimeout(0.5)
        env = {
            **os.environ,
            "SEQD_CONFIG": "",
            "NOTIFY_SOCKET": str(notify_path),
            "WATCHDOG_USEC": "2000000",
        }
        env.pop("WATCHDOG_PID", None)
        log = open(d.log_path, "ab")  # noqa: SIM115
        d.proc = subprocess.Popen(
            d.command(), stdout=log, stderr=subprocess.STDOUT, env=env, cwd=d.base
        )
        log.close()
        pings = 0
        deadline = time.monotonic() + 40
        while pings < 2 and time.monotonic() < deadline:
            try:
                lines = nsock.recv(65536).decode().split("\n")
            except TimeoutError:
                assert d.proc.poll() is None, d.log_text()
                continue
            pings += lines.count("WATCHDOG=1")
        assert pings >= 2, d.log_text()
        assert d.stop() == 0, d.log_text()
