"""Socket hijack (issue 18, item 3): another user makes the ``$TMPDIR/runtime-UID``
folder first and listens where a client looks for the daemon. The client asks the
kernel who listens before it sends anything; the daemon refuses a runtime folder that
is not its own with mode 0700; a reply of the wrong shape is a clear error, never a
traceback."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seqd.client import Client, ProtocolError, UntrustedDaemon
from tests.conftest import EXAMPLES
from tests.security.conftest import User, as_user, need, other_python, setpriv, temp_folder

FAKE = r"""
import os, socket, sys
path, log, reply = sys.argv[1], sys.argv[2], sys.argv[3]
srv = socket.socket(socket.AF_UNIX)
srv.bind(path)
os.chmod(path, 0o777)
srv.listen()
print("ready", flush=True)
while True:
    conn, _ = srv.accept()
    conn.settimeout(3)
    data = b""
    try:
        while not data.endswith(b"\n"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    with open(log, "ab") as fh:
        fh.write(data)
    if data:
        conn.sendall(reply.encode() + b"\n")
    conn.close()
"""
FORGED = '{"jsonrpc": "2.0", "id": 1, "result": "gotcha"}'


def listen_as(user: User, sock: Path, reply: str, log: Path) -> subprocess.Popen[str]:
    """A fake daemon run by ``user`` at ``sock``: it records what it receives in
    ``log`` and answers every line with ``reply``."""
    log.touch()
    os.chown(log, user.uid, user.gid)
    proc = subprocess.Popen(
        [*setpriv(user), other_python(), "-c", FAKE, str(sock), str(log), reply],
        stdout=subprocess.PIPE, text=True, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def attacker_folder(user: User, tmp: Path) -> Path:
    """What the attacker makes: ``<tmp>/runtime-0/seqd/`` for root's clients."""
    made = as_user(user, ["mkdir", "-p", str(tmp / f"runtime-{os.getuid()}" / "seqd")])
    assert made.returncode == 0, made.stderr
    return tmp / f"runtime-{os.getuid()}" / "seqd"


def victim_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_RUNTIME_DIR", "SEQD_SOCKET")}
    return {**env, "TMPDIR": str(tmp), "SEQD_CONFIG": ""}


def seqctl(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "seqd.cli", *args], capture_output=True,
                          text=True, env=env, timeout=60)  # fmt: skip


def own_runtime_dir_exists() -> bool:
    return os.path.isdir(f"/run/user/{os.getuid()}")


def test_seqctl_sends_nothing_to_another_users_socket(other: User, sticky_tmp: Path) -> None:
    folder = attacker_folder(other, sticky_tmp)
    log = sticky_tmp / "received"
    fake = listen_as(other, folder / "seqd.sock", FORGED, log)
    try:
        env = victim_env(sticky_tmp)
        # Found through the /tmp fallback where it applies; named outright elsewhere.
        where = ["--socket", str(folder / "seqd.sock")] if own_runtime_dir_exists() else []
        done = seqctl(*where, "run", "hello", "-i", "name=secret-input", env=env)
        assert done.returncode == 3, done
        assert f"runs as uid {other.uid}" in done.stderr and "nothing was sent" in done.stderr
        assert "Traceback" not in done.stderr
        assert log.read_bytes() == b""
        with pytest.raises(UntrustedDaemon) as info, Client(str(folder / "seqd.sock")) as c:
            c.ping()
        assert info.value.uid == other.uid
        assert log.read_bytes() == b""
        # Told to trust that uid, the client talks; the forged reply is then a clear
        # error (exit 3), not a traceback.
        trusting = {**env, "SEQD_TRUSTED_UIDS": str(other.uid)}
        done = seqctl("--socket", str(folder / "seqd.sock"), "run", "hello", env=trusting)
        assert done.returncode == 3 and "cannot use" in done.stderr, done
        assert "Traceback" not in done.stderr and b"runs.submit" in log.read_bytes()
        with (
            pytest.raises(ProtocolError),
            Client(str(folder / "seqd.sock"), trusted_uids=[other.uid]) as c,
        ):
            c.submit("hello", {})
    finally:
        fake.kill()
        fake.wait()


@pytest.mark.parametrize("reply", ["not json at all", '{"jsonrpc": "2.0", "id": 1}', "[1, 2]"])
def test_garbage_replies_are_errors_not_tracebacks(
    other: User, sticky_tmp: Path, reply: str
) -> None:
    folder = attacker_folder(other, sticky_tmp)
    fake = listen_as(other, folder / "seqd.sock", reply, sticky_tmp / "received")
    try:
        env = {**victim_env(sticky_tmp), "SEQD_TRUSTED_UIDS": str(other.uid)}
        for args in (["status"], ["runs", "ls"], ["run", "hello"]):
            done = seqctl("--socket", str(folder / "seqd.sock"), *args, env=env)
            assert done.returncode == 3, done
            assert "Traceback" not in done.stderr and "error:" in done.stderr
    finally:
        fake.kill()
        fake.wait()


def test_a_folder_only_its_owner_could_fill_is_trusted(other: User) -> None:
    """A system daemon's user (here: the second user) listening in a folder it owns,
    under folders only root may write (``/run/seqd``): its clients need no config."""
    if not os.access("/run", os.W_OK):
        need("cannot make a root-owned folder under /run")
    with temp_folder(0o755, "/run") as top:
        folder = top / "seqd"
        folder.mkdir(mode=0o755)
        os.chown(folder, other.uid, other.gid)
        log = top / "received"
        fake = listen_as(
            other, folder / "seqd.sock", '{"jsonrpc":"2.0","id":1,"result":"pong"}', log
        )
        try:
            with Client(str(folder / "seqd.sock"), typed=False) as c:
                assert c.ping() == "pong"
            folder.chmod(0o777)  # now anyone could have put the socket there
            with pytest.raises(UntrustedDaemon), Client(str(folder / "seqd.sock")) as c:
                c.ping()
        finally:
            fake.kill()
            fake.wait()


def start_seqd(tmp: Path, state: Path, runtime: Path | None = None) -> subprocess.Popen[str]:
    """``seqd`` on its default socket (no ``--socket``): in ``$XDG_RUNTIME_DIR`` when
    ``runtime`` is given, else by the ``$TMPDIR/runtime-UID`` fallback."""
    env = victim_env(tmp) | ({"XDG_RUNTIME_DIR": str(runtime)} if runtime else {})
    return subprocess.Popen(
        [sys.executable, "-m", "seqd", "--state-dir", str(state), "--tasks", str(EXAMPLES),
         "--no-watch"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def refused(daemon: subprocess.Popen[str], needle: str) -> None:
    out, _ = daemon.communicate(timeout=60)
    assert daemon.returncode != 0 and needle in out and "refusing the socket folder" in out, out


def test_the_daemon_checks_its_xdg_runtime_folder(
    other: User, sticky_tmp: Path, tmp_path: Path
) -> None:
    """The same checks on ``$XDG_RUNTIME_DIR`` (the first choice), wherever the test
    runs: another mode than 0700 is refused, and so is a ``seqd/`` folder in it that
    another user owns."""
    with temp_folder(0o755) as runtime:
        refused(start_seqd(sticky_tmp, tmp_path / "state", runtime), "mode 0755")
        runtime.chmod(0o700)
        (runtime / "seqd").mkdir()
        os.chown(runtime / "seqd", other.uid, other.gid)
        refused(start_seqd(sticky_tmp, tmp_path / "state", runtime), f"uid {other.uid}")


def test_the_daemon_refuses_a_runtime_folder_it_does_not_own(
    other: User, sticky_tmp: Path, tmp_path: Path
) -> None:
    if own_runtime_dir_exists():  # not a missing capability: the fallback is not used here
        pytest.skip(f"/run/user/{os.getuid()} exists, so the $TMPDIR fallback is not used")
    runtime = sticky_tmp / f"runtime-{os.getuid()}"
    attacker_folder(other, sticky_tmp)
    refused(start_seqd(sticky_tmp, tmp_path / "state"), f"belongs to uid {other.uid}")
    assert not (runtime / "seqd" / "seqd.sock").exists()

    shutil.rmtree(runtime)
    runtime.mkdir(mode=0o755)
    runtime.chmod(0o755)  # ours, but others may look in
    refused(start_seqd(sticky_tmp, tmp_path / "state"), "mode 0755")

    runtime.rmdir()  # missing: the daemon makes it, ours and 0700, and serves
    daemon = start_seqd(sticky_tmp, tmp_path / "state")
    try:
        sock = runtime / "seqd" / "seqd.sock"
        for _ in range(400):  # until it listens (as tests/conftest.py waits for a daemon)
            if sock.exists():
                break
            assert daemon.poll() is None, daemon.stdout.read() if daemon.stdout else ""
            time.sleep(0.05)
        with Client(str(sock), timeout=5) as c:
            assert c.ping() == "pong"
        assert (runtime.stat().st_mode & 0o777) == 0o700 and runtime.stat().st_uid == os.getuid()
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.communicate(timeout=60)
