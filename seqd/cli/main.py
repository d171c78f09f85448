"""seqctl's entry point: parse, run one command, map the outcome to an exit status.

Exit statuses (★): 0 ok; 1 the run failed or was cancelled; 2 usage error;
3 daemon unreachable; 4 the daemon refused the request. Kept light on imports — no
asyncio, pluggy or jsonschema — so ``seqctl status`` starts in a few milliseconds.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import cast

import msgspec

from seqd.cli.inputs import UsageError
from seqd.cli.output import Out
from seqd.cli.parser import build_parser
from seqd.client import Client, DaemonUnreachable, ProtocolError, RpcError

OK, FAILED, USAGE, UNREACHABLE, REFUSED = 0, 1, 2, 3, 4
INTERRUPTED = 130
BROKEN_PIPE = 141

Handler = Callable[[Client, argparse.Namespace, Out], int]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    out = Out(json=args.json)
    module, name = args.handler
    handler = cast(Handler, getattr(importlib.import_module(f"seqd.cli.{module}"), name))
    client: Client | None = None
    try:
        client = Client(args.socket)
        return handler(client, args, out)
    except UsageError as exc:
        out.error(f"seqctl: error: {exc}")
        return USAGE
    except RpcError as exc:
        out.error(f"error: {exc.message} ({exc.type})")
        for key, value in exc.details.items():
            text = value if isinstance(value, str) else _compact(value)
            out.error(f"  {key}: {text}")
        return REFUSED
    except DaemonUnreachable as exc:
        out.error(f"error: {exc}")
        return UNREACHABLE
    except ProtocolError as exc:
        path = client.socket_path if client is not None else "the socket"
        out.error(f"error: {path} did not answer like seqd: {exc}")
        return UNREACHABLE
    except KeyboardInterrupt:
        out.error("")
        return INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`seqctl runs ls | head`): stop quietly, as cat would.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return BROKEN_PIPE
    finally:
        if client is not None:
            client.close()


def _compact(value: object) -> str:
    return msgspec.json.encode(value).decode()


def run() -> None:
    """For ``python -m seqd.cli``."""
    sys.exit(main())
