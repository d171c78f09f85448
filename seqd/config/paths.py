"""Where the socket, state and config live, resolved the same way by seqd and seqctl.

Order: explicit value, else the systemd-provided directory (``$RUNTIME_DIRECTORY``,
``$STATE_DIRECTORY``, ``$CONFIGURATION_DIRECTORY``), else system paths when run as a
system service (root under systemd), else the user's platformdirs locations. A daemon
on the user socket first makes sure its folders are its own (``prepare_user_socket``).
"""

from __future__ import annotations

import os
import stat

APP = "seqd"
SOCKET_NAME = "seqd.sock"
CONFIG_NAME = "seqd.toml"
SYSTEM_SOCKET = "/run/seqd/seqd.sock"
SYSTEM_STATE = "/var/lib/seqd"
SYSTEM_CONFIG = "/etc/seqd/seqd.toml"


def _first_dir(var: str) -> str | None:
    value = os.environ.get(var)
    # systemd joins several directories with ':'; ours is the first.
    return value.split(":", 1)[0] if value else None


def is_system_service() -> bool:
    """Root, started by systemd (which sets INVOCATION_ID for every unit it runs)."""
    return os.geteuid() == 0 and "INVOCATION_ID" in os.environ


def default_socket() -> str:
    runtime = _first_dir("RUNTIME_DIRECTORY")
    if runtime:
        return os.path.join(runtime, SOCKET_NAME)
    if is_system_service():
        return SYSTEM_SOCKET
    return user_socket()


def user_runtime_dir() -> str:
    """``$XDG_RUNTIME_DIR``, else ``/run/user/UID``, else ``$TMPDIR/runtime-UID`` (each
    only if it is a directory we own) — the XDG rule platformdirs follows, written out
    here because seqctl's start-up cannot afford importing platformdirs."""
    uid = os.getuid()
    for candidate in (os.environ.get("XDG_RUNTIME_DIR"), f"/run/user/{uid}"):
        if candidate and os.path.isabs(candidate):
            try:
                st = os.stat(candidate)
            except OSError:
                continue
            if st.st_uid == uid and os.path.isdir(candidate):
                return candidate
    tmp = os.environ.get("TMPDIR") or "/tmp"
    return os.path.join(tmp, f"runtime-{uid}")


def user_socket() -> str:
    return os.path.join(user_runtime_dir(), APP, SOCKET_NAME)


class UnsafeDirectory(Exception):
    """A folder the daemon would put its socket in could be another user's."""


def private_dir(path: str, create: bool) -> None:
    """Make sure ``path`` is a real folder (no symlink) of this user with mode 0700,
    creating it so when ``create`` and it is missing; else ``UnsafeDirectory``."""
    uid = os.geteuid()
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        if not create:
            raise UnsafeDirectory(f"{path} does not exist") from None
        os.mkdir(path, 0o700)
        st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeDirectory(f"{path} is not a folder (a symlink or a file in its place)")
    if st.st_uid != uid:
        raise UnsafeDirectory(
            f"{path} belongs to uid {st.st_uid}, not to uid {uid}: another user may have "
            "made it to catch this daemon's clients"
        )
    mode = stat.S_IMODE(st.st_mode)
    if mode != 0o700:
        raise UnsafeDirectory(f"{path} has mode {mode:04o}; it must be 0700 (chmod 700 {path})")


def prepare_user_socket() -> str:
    """The user socket's path, once its folders are safe: the runtime folder (made
    for the ``$TMPDIR/runtime-UID`` fallback when missing) and ``seqd/`` in it must
    be this user's own, mode 0700. ``UnsafeDirectory`` says what is wrong."""
    runtime = user_runtime_dir()
    private_dir(runtime, create=runtime.endswith(f"/runtime-{os.getuid()}"))
    folder = os.path.join(runtime, APP)
    private_dir(folder, create=True)
    return os.path.join(folder, SOCKET_NAME)


def default_state_dir() -> str:
    state = _first_dir("STATE_DIRECTORY")
    if state:
        return state
    if is_system_service():
        return SYSTEM_STATE
    import platformdirs

    return platformdirs.user_data_dir(APP)


def default_config_file() -> str:
    conf = _first_dir("CONFIGURATION_DIRECTORY")
    if conf:
        return os.path.join(conf, CONFIG_NAME)
    if is_system_service():
        return SYSTEM_CONFIG
    import platformdirs

    return os.path.join(platformdirs.user_config_dir(APP), CONFIG_NAME)


def client_socket(explicit: str | None = None) -> str:
    """The socket a client should use: ``--socket``, ``$SEQD_SOCKET``, the user's
    daemon if its socket exists, the system daemon's if that exists, else the user
    path (so the error message names where a user daemon would listen)."""
    if explicit:
        return explicit
    env = os.environ.get("SEQD_SOCKET")
    if env:
        return env
    user = user_socket()
    if os.path.exists(user):
        return user
    if os.path.exists(SYSTEM_SOCKET):
        return SYSTEM_SOCKET
    return user
