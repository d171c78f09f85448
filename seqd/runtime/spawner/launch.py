"""Starting one command in the spawner: its work dir and input file, then
``posix_spawn`` in a new session, searched on the command's own ``PATH``.

Its own module because how a command is started (file actions, signals given back
their default actions, the ``execvp``-like search, why a start failed) is apart from
the loop that watches it (``seqd.runtime.spawner.server``). Runs in the spawner
process: the standard library only.
"""

from __future__ import annotations

import errno
import os
import signal

from seqd.runtime.childpipes import output_pipes
from seqd.runtime.procs import SpawnError
from seqd.runtime.spawner.messages import CommandSpec
from seqd.runtime.spawner.spares import SparePool

RESTORED_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ)
"""Python ignores these at start-up, and ignored signals survive exec: give commands
the default actions back, as ``subprocess`` does (``yes | head`` needs SIGPIPE)."""


def spawn(req: CommandSpec, spares: SparePool) -> tuple[int, int, int]:
    """Prepare the work dir, start the command; returns (pid, stdout, stderr pipes).
    Raises ``SpawnError`` (or ``OSError``, ``ValueError``) if it cannot start."""
    if not req.argv:
        raise SpawnError("empty command", None)
    if req.work_dir is not None:
        try:
            spares.take(req.work_dir, req.spare_dir)
        except OSError as exc:
            raise SpawnError(f"cannot create the work dir: {exc.strerror}", exc.errno) from None
        if req.input_file is not None:
            _write_file(os.path.join(req.work_dir, req.input_file), req.input)
    try:
        os.chdir(req.cwd)
    except OSError as exc:
        msg = f"cannot change to directory {req.cwd!r}: {exc.strerror}"
        raise SpawnError(msg, exc.errno) from None
    stdin = os.devnull
    if req.stdin_from_input:
        if req.work_dir is None or req.input_file is None:
            raise SpawnError("stdin_from_input needs a work_dir and an input_file", None)
        stdin = os.path.join(req.work_dir, req.input_file)
    with output_pipes() as pipes:
        actions: list[tuple[int | str, ...]] = [
            (os.POSIX_SPAWN_OPEN, 0, stdin, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, pipes.out_w, 1),
            (os.POSIX_SPAWN_DUP2, pipes.err_w, 2),
        ]
        pid = _spawn_on_path(req.argv, req.env, actions)
    out_r, err_r = pipes.out_r, pipes.err_r
    os.set_blocking(out_r, False)
    os.set_blocking(err_r, False)
    return pid, out_r, err_r


def _spawn_on_path(
    argv: list[str], env: dict[str, str], actions: list[tuple[int | str, ...]]
) -> int:
    """``posix_spawn`` the program, searched on the *command's* ``PATH`` when its name
    has no slash (as ``subprocess`` does); the first error other than "not there"
    wins, as with ``execvp``."""
    program = argv[0]
    if "/" in program:
        candidates = [program]
    else:
        candidates = [os.path.join(d, program) for d in os.get_exec_path(env)]
    first_error: OSError | None = None
    for path in candidates:
        if len(candidates) > 1 and not os.path.isfile(path):
            continue
        try:
            return os.posix_spawn(
                path,
                argv,
                env,
                file_actions=actions,
                setsid=True,
                setsigdef=RESTORED_SIGNALS,
            )
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ENOTDIR) and first_error is None:
                first_error = exc
    if first_error is not None:
        raise SpawnError(f"cannot run {program!r}: {first_error.strerror}", first_error.errno)
    raise SpawnError(f"cannot run {program!r}: {os.strerror(errno.ENOENT)}", errno.ENOENT)


def _write_file(path: str, data: bytes) -> None:
    """Write ``data`` over what the file held. Not ``O_TRUNC``: on ext4 a file cut to
    zero and written again is flushed to disk when closed (``auto_da_alloc``), and its
    freed blocks are discarded — costly per run when a spare's input file is reused."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)
