"""Running one command to its end: ``run_command``, the one boundary for "run this
command, stream its output, give me its exit status and resource use" (the shell task
type and the ``shell.exec`` tool both go through it).

Its own module because what must happen on a cancel (a user's cancel, a timeout,
shutdown) is a rule of its own: the command's process group is always ended and waited
for, even if the caller is cancelled again meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from seqd.runtime.procs import ExitStatus
from seqd.runtime.spawner.client import Spawner
from seqd.runtime.spawner.command import OutputSink, RunningCommand
from seqd.runtime.spawner.messages import CommandSpec


async def run_command(
    spawner: Spawner,
    spec: CommandSpec,
    sink: OutputSink,
    *,
    grace_s: float,
    on_start: Callable[[RunningCommand], Awaitable[None]] | None = None,
    on_end: Callable[[RunningCommand, ExitStatus], Awaitable[None]] | None = None,
) -> ExitStatus:
    """Run ``spec`` to its end, its lines going to ``sink`` as they come.

    Cancelled (a user's cancel, a timeout, shutdown), it ends the process group —
    SIGTERM, SIGKILL after ``grace_s`` — and waits for that even if cancelled again,
    calls ``on_end``, then re-raises. Raises ``SpawnError`` (could not start),
    ``ValueError`` (NUL in argv/env) or ``SpawnerCrashed``."""
    cmd = await spawner.launch(spec, sink)
    try:
        if on_start is not None:
            await on_start(cmd)
        await cmd.wait()
    except asyncio.CancelledError:
        await _finish_despite_cancel(_end(cmd, cmd.terminate(grace_s), on_end))
        raise
    except BaseException:
        if not cmd.exited.done():
            await _finish_despite_cancel(_end(cmd, cmd.terminate(0), on_end))
        raise
    return await _finish_despite_cancel(_end(cmd, cmd.wait(), on_end))


async def _end(
    cmd: RunningCommand,
    ending: Awaitable[ExitStatus],
    on_end: Callable[[RunningCommand, ExitStatus], Awaitable[None]] | None,
) -> ExitStatus:
    status = await ending
    if on_end is not None:
        await on_end(cmd, status)
    return status


async def _finish_despite_cancel(aw: Awaitable[ExitStatus]) -> ExitStatus:
    """Run ``aw`` to the end even if we are cancelled again meanwhile (a timeout then a
    shutdown), then re-raise that cancellation: the group must always be ended."""
    task = asyncio.ensure_future(aw)
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(task)
            break
        except asyncio.CancelledError:
            if task.done():
                raise
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    return result
