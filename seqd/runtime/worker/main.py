"""The worker's main loop: bind to the daemon's life, replace stdio, serve requests.

The worker dies with the daemon three ways: ``PR_SET_PDEATHSIG`` (SIGKILL when the
spawning thread dies), a ``getppid()`` check right after setting it (the daemon may
have died before), and EOF on the control channel. It always leaves through
``os._exit`` (``seqd.runtime.lifeline.run_helper``) so that threads left behind by task
code can never hold it open.
"""

from __future__ import annotations

import faulthandler
import os
import signal
import sys

from seqd.runtime.lifeline import run_helper
from seqd.runtime.worker.channel import CancelGuard, Channel
from seqd.runtime.worker.context import TaskCancelled
from seqd.runtime.worker.runner import Runner
from seqd.runtime.worker.stdio import LogWriter
from seqd.runtime.workerpool.messages import Execute, Hello, SchemaRequest


def serve(fd: int) -> int:
    os.set_inheritable(fd, False)
    guard = CancelGuard()
    channel = Channel(fd, guard)
    out = LogWriter(channel.log, "stdout", 1)
    err = LogWriter(channel.log, "stderr", 2)
    faulthandler.enable(file=sys.__stderr__ or sys.stderr, all_threads=True)
    sys.stdout, sys.stderr = out, err
    signal.signal(signal.SIGTERM, guard.on_sigterm)
    runner = Runner(channel, guard, (out, err))
    channel.send(Hello(pid=os.getpid()))
    while True:
        frame = channel.recv()
        if frame is None:
            return 0
        if isinstance(frame, Execute):
            result = runner.execute(frame)
            channel.send(result)
            if result.cancelled:
                return 0
        elif isinstance(frame, SchemaRequest):
            channel.send(runner.schema(frame))


def main(argv: list[str] | None = None) -> None:
    # OSError, EOFError: the daemon went away mid-frame.
    run_helper("seqd.runtime.worker", serve, (TaskCancelled, OSError, EOFError), argv)
