"""seqctl's entry point: parse, run one command, map the outcome to an exit status.

Exit statuses (★): 0 ok; 1 the run failed or was cancelled; 2 usage error;
3 daemon unreachable (no socket, nothing listening, an untrusted uid listening, or a
reply seqctl cannot use); 4 the daemon refused the request. With ``--json`` an error is
also printed to stdout as ``{"error": {"type", "message", "details"}}``. Kept light on
imports — no
asyncio, pluggy, jsonschema, logging, msgspec or ``typing`` (the client decodes with
the standard library: ``Client(typed=False)``), and for ``seqctl status`` not even
``json``, ``argparse`` or ``re`` (``quick.py``, ``seqd.rpc.strictjson``) — so it starts
in a few milliseconds over the interpreter's own start-up; tests/cli/test_imports.py
checks. A command word that is not seqctl's own may be one an installed package adds
(``seqd.cli.extensions``): that command then has the command line to itself.
"""

from __future__ import annotations

import atexit
import os
import sys

from seqd.cli import quick
from seqd.cli.inputs import UsageError
from seqd.cli.output import Out, detail_lines
from seqd.client import Client, ClientError, DaemonUnreachable, ProtocolError, RpcError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence
    from typing import NoReturn

    from seqd.cli.parser.builder import CommandLineError

    Handler = Callable[[Client, argparse.Namespace, Out], int]

OK, FAILED, USAGE, UNREACHABLE, REFUSED = 0, 1, 2, 3, 4
COMPLETE = "__complete"
"""The hidden command completion scripts call (``seqd.cli.completion.candidates``)."""
INTERRUPTED = 130
BROKEN_PIPE = 141


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit status. Called without ``argv`` — as the
    ``seqctl`` program — it parses ``sys.argv`` and ends the process itself (``_end``)."""
    status = _command(argv)
    if argv is None:
        _end(status)
    return status


def _command(argv: Sequence[str] | None) -> int:
    words = sys.argv[1:] if argv is None else argv
    if _completing(words):  # the shell asking for names as the user types
        candidates: Callable[[Sequence[str]], int] = quick.load(("completion", "candidates"))
        return candidates(words)
    at = quick.noun(words)
    if at is not None and words[at] not in quick.COMMANDS:
        from seqd.cli.extensions import run  # a command an installed package adds?

        status = run(words, at)
        if status is not None:
            return status
    try:
        args = quick.parse(words) or _parse(words)
    except _command_line_error() as exc:
        out = Out(json="--json" in words)
        out.error(exc.usage.rstrip("\n"))
        out.error(f"{exc.prog}: error: {exc.message}")
        out.json_error("usage", f"{exc.prog}: {exc.message}")
        return USAGE
    out = Out(json=args.json)
    handler: Handler = quick.load(args.handler)
    client: Client | None = None
    try:
        client = Client(args.socket, typed=False)
        return handler(client, args, out)
    except UsageError as exc:
        out.error(f"seqctl: error: {exc}")
        out.json_error("usage", str(exc))
        return USAGE
    except RpcError as exc:
        out.error(f"error: {exc.message} ({exc.type})")
        for line in detail_lines(exc.details):
            out.error(line)
        out.json_error(exc.type, exc.message, exc.details)
        return REFUSED
    except DaemonUnreachable as exc:
        out.error(f"error: {exc}")
        out.json_error("unreachable", str(exc), {"socket": exc.socket_path})
        return UNREACHABLE
    except ProtocolError as exc:
        path = client.socket_path if client is not None else "the socket"
        out.error(f"error: {path} did not answer like seqd: {exc}")
        out.json_error("protocol", f"{path} did not answer like seqd: {exc}", {"socket": path})
        return UNREACHABLE
    except ClientError as exc:  # e.g. a $SEQD_TRUSTED_UIDS that is not a list of uids
        out.error(f"seqctl: error: {exc}")
        return USAGE
    except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:
        if client is None or not client.replies:
            raise
        # A reply of the wrong shape (a daemon of another version, or not seqd at all):
        # a clear error, never a traceback.
        out.error(
            f"error: {client.socket_path} sent a reply seqctl cannot use "
            f"({type(exc).__name__}: {exc}); is the daemon the same version as seqctl?"
        )
        return UNREACHABLE
    except KeyboardInterrupt:
        out.error("")
        return INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`seqctl runs ls | head`): stop quietly, as cat would.
        _stdout_to_devnull()
        return BROKEN_PIPE
    finally:
        if client is not None:
            client.close()


def _completing(words: Sequence[str]) -> bool:
    """``__complete``, alone or after ``--socket PATH`` / ``--socket=PATH``."""
    if words[:1] == [COMPLETE]:
        return True
    if words[:1] == ["--socket"]:
        return words[2:3] == [COMPLETE]
    return words[:1] != [] and words[0].startswith("--socket=") and words[1:2] == [COMPLETE]


def _command_line_error() -> type[CommandLineError]:
    """The error class of the argparse path, imported only when that path runs."""
    from seqd.cli.parser.builder import CommandLineError

    return CommandLineError


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    """Any command line, with argparse: help, usage errors (exit 2) and all."""
    from seqd.cli.parser import build_parser

    return build_parser(argv).parse_args(argv)


def _end(status: int) -> NoReturn:
    """Flush the output, then leave with ``os._exit``: the interpreter's teardown frees
    every module one by one, ~3 ms of seqctl's ~25 ms budget, and nothing seqctl
    imports needs it. If something did register an exit handler (coverage, a
    sitecustomize), the ordinary exit runs instead."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _stdout_to_devnull()
        status = BROKEN_PIPE
    try:
        sys.stderr.flush()
    except OSError:
        pass  # nowhere left to say so
    handlers = getattr(atexit, "_ncallbacks", None)  # CPython's count of exit handlers
    if handlers is None or handlers():
        sys.exit(status)
    os._exit(status)


def _stdout_to_devnull() -> None:
    """So that writes (and the final flush) to a closed pipe no longer fail."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def run() -> None:
    """For ``python -m seqd.cli``."""
    sys.exit(main())
