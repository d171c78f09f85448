"""seqctl's run commands: ``run TASK`` and ``runs ls|show|logs|cancel|wait``.

Waiting is done in bounded ``runs.wait`` calls (so no single request is unbounded and
a lost daemon is noticed); log lines, followed or not, come from an event subscription
(``seqd.cli.follow``). Ctrl-C stops the waiting, never the run. A run given as a
reference (a prefix, ``last``) is resolved once, by the daemon, before a command that
makes several calls about it. As in ``commands``, results are ``AttrDict``s read
through the Structs' field names.
"""

from __future__ import annotations

import time

from seqd.cli.follow import follow
from seqd.cli.inputs import UsageError, build_input
from seqd.cli.output import (
    clock,
    compact_json,
    detail_lines,
    duration,
    elapsed,
    full_time,
    pretty_json,
    size,
)
from seqd.cli.progress import Spinner, on_terminal
from seqd.cli.reconnect import INTERRUPTED, patient
from seqd.model.status import TERMINAL

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable
    from typing import Any

    from seqd.cli.output import Out
    from seqd.client import Client
    from seqd.model.runs import LogLine, Run

WAIT_CHUNK_S = 60.0
"""Longest single ``runs.wait`` while waiting for a run to end."""
SPINNER_CHUNK_S = 1.0
"""...and with a spinner, whose status line shows each change within this."""


def run(client: Client, args: argparse.Namespace, out: Out) -> int:
    if args.each is not None:
        from seqd.cli.each import run_each

        return run_each(client, args, out)
    if args.wait:
        raise UsageError("--wait goes with --each (a single run is waited for anyway)")
    payload = build_input(args.input, args.items)
    submitted = client.submit(
        args.task,
        payload,
        idempotency_key=args.idempotency_key,
        priority=args.priority,
        traceparent=args.traceparent,
    )
    if args.detach:
        out.result(submitted, lambda run: out.line(run.id))
        return 0
    return _wait_and_report(client, submitted.id, submitted, args.timeout, args.follow, out)


def wait(client: Client, args: argparse.Namespace, out: Out) -> int:
    current = client.get_run(args.id)  # resolves a prefix or `last` once
    return _wait_and_report(client, current.id, current, args.timeout, False, out)


def _wait_and_report(
    client: Client,
    run_id: str,
    current: Run | None,
    timeout: float | None,
    follow_log: bool,
    out: Out,
) -> int:
    deadline = None if timeout is None else time.monotonic() + timeout
    spinner = None
    if not follow_log and on_terminal(out) and (current is None or current.status not in TERMINAL):
        spinner = Spinner(out.stderr, f"{current.task if current else 'run'} {run_id}").start()
    try:
        if follow_log:
            emit = _log_printer(out, run_id, to_stderr=True, live=True)
            current = follow(client, run_id, emit, out, deadline=deadline) or current
        final = await_run(client, run_id, current, deadline, out, spinner)
    except KeyboardInterrupt:
        if spinner is not None:
            spinner.stop()
        out.error(
            f"\nrun {run_id} continues in the background; "
            f"cancel it with: seqctl runs cancel {run_id}"
        )
        return INTERRUPTED
    finally:
        if spinner is not None:
            spinner.stop()
    return report(final, out)


def await_run(
    client: Client,
    run_id: str,
    current: Run | None,
    deadline: float | None,
    out: Out,
    spinner: Spinner | None = None,
) -> Run:
    """The run once finished, or as it is when ``deadline`` (monotonic) passes."""
    longest = WAIT_CHUNK_S if spinner is None else SPINNER_CHUNK_S
    while current is None or current.status not in TERMINAL:
        if spinner is not None and current is not None:
            spinner.status(current.status)
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            return current if current is not None else client.get_run(run_id)
        chunk = longest if remaining is None else min(longest, remaining)
        current = patient(out, client.wait, run_id, chunk)
    return current


def report(run: Run, out: Out) -> int:
    """Print a run's outcome; 0 if it succeeded, 1 otherwise."""
    if out.json_mode:
        out.json(run)
    elif run.status == "succeeded":
        _print_output(run.output, out)
    if run.status == "succeeded":
        return 0
    if run.status in TERMINAL:
        out.error(_failure(run))
    else:
        out.error(
            f"run {run.id} is still {run.status}; it continues in the background. "
            f"Wait for it with: seqctl runs wait {run.id}"
        )
    return 1


def _print_output(output: object, out: Out) -> None:
    if output is None:
        return
    if isinstance(output, str):
        out.stdout.write(output if output.endswith("\n") else output + "\n")
    else:
        out.line(pretty_json(output))


def _failure(run: Run) -> str:
    err = run.error
    if err is None:
        return f"run {run.id} {run.status}"
    kind = "" if err.type == run.status else f"{err.type}: "
    lines = [f"run {run.id} {run.status}: {kind}{err.message}"]
    details = dict(err.details)
    traceback = details.pop("traceback", None)
    lines.extend(detail_lines(details))
    if isinstance(traceback, list):
        traceback = "".join(str(t) for t in traceback)
    if traceback:
        lines.append(str(traceback).rstrip("\n"))
    return "\n".join(lines)


def _log_printer(
    out: Out, run_id: str, to_stderr: bool = False, live: bool = False
) -> Callable[[LogLine, Any], None]:
    """Lines as ``HH:MM:SS.mmm stream text``, those of another run of the tree (a flow's
    state) with ``[its task]`` before the text; with --json on stdout, one JSON object a
    line with its ``run_id`` and ``task``. ``live`` flushes each line, for following."""
    stream = out.stderr if to_stderr else out.stdout

    def emit(line: LogLine, source: Any) -> None:
        if out.json_mode and not to_stderr:
            fields = {"seq": line.seq, "ts": line.ts, "stream": line.stream, "text": line.text}
            stream.write(compact_json({**fields, "run_id": source.run_id, "task": source.task}))
            stream.write("\n")
        else:
            text = line.text.rstrip(chr(10))
            if source.run_id != run_id:
                text = f"[{source.task or source.run_id}] {text}"
            stream.write(f"{clock(line.ts)} {line.stream:<6} {text}\n")
        if live:
            stream.flush()

    return emit


def show(client: Client, args: argparse.Namespace, out: Out) -> int:
    if args.tree:
        from seqd.cli.journal import tree

        return tree(client, args, out)
    out.result(client.get_run(args.id), lambda run: _show_run(run, out))
    return 0


def _show_run(r: Run, out: Out) -> None:
    res = r.resources
    out.kv(
        [
            ("id", r.id),
            ("task", r.task),
            ("status", r.status),
            ("attempt", r.attempt),
            ("task version", r.task_version or "-"),
            ("priority", r.priority),
            ("parent", r.parent_id or "-"),
            ("root", r.root_id or "-"),
            ("node", r.node or "-"),
            ("pid", r.pid if r.pid is not None else "-"),
            ("submitted by", f"uid {r.submitted_by}" if r.submitted_by is not None else "-"),
            ("idempotency key", r.idempotency_key or "-"),
            ("created", full_time(r.created_at)),
            ("started", full_time(r.started_at) or "-"),
            ("finished", full_time(r.finished_at) or "-"),
            ("duration", duration(elapsed(r.started_at, r.finished_at)) or "-"),
            ("running", duration(getattr(r, "running_s", None)) or "-"),  # older daemons lack it
            ("cpu", duration(res.cpu_s) if res and res.cpu_s is not None else "-"),
            ("peak rss", size(res.peak_rss_bytes) if res and res.peak_rss_bytes else "-"),
            ("input", pretty_json(r.input)),
            ("output", pretty_json(r.output)),
        ]
    )
    if r.error is not None:
        out.line()
        out.line("error:")
        out.line(_failure(r))


def logs(client: Client, args: argparse.Namespace, out: Out) -> int:
    run_id = client.get_run(args.id).id  # resolves a prefix or `last` once
    printer = _log_printer(out, run_id, live=args.follow)
    emit = printer
    if args.after:
        skip = args.after

        def emit(line: LogLine, source: Any) -> None:
            if source.run_id != run_id or line.seq > skip:
                printer(line, source)

    follow(client, run_id, emit, out, keep_going=args.follow, tail=args.tail, since_s=args.since)
    return 0


def signal(client: Client, args: argparse.Namespace, out: Out) -> int:
    out.result(
        client.signal(args.id, args.name, args.data),
        lambda r: out.line(f"run {r.id}: signal {args.name!r} delivered ({r.status})"),
    )
    return 0


def retry(client: Client, args: argparse.Namespace, out: Out) -> int:
    return new_run(client, client.retry(args.id), args.wait, out)


def new_run(client: Client, r: Run, wait: bool, out: Out) -> int:
    """A run a command just started: print its id, or ``wait`` for it and report it as
    ``seqctl run`` does (``runs retry``, ``schedules trigger``)."""
    if not wait:
        out.result(r, lambda run: out.line(run.id))
        return 0
    return _wait_and_report(client, r.id, r, None, False, out)


def cancel(client: Client, args: argparse.Namespace, out: Out) -> int:
    out.result(client.cancel(args.id, args.reason), lambda r: out.line(f"run {r.id}: {r.status}"))
    return 0
