"""``seqctl run TASK --each FILE``: one run per line of a JSON Lines file.

Lines are read and checked first (a line that is not a JSON object stops everything
before anything is submitted, naming its line), then submitted ``EACH_BATCH`` at a
time with ``runs.submit_many`` — each batch accepted whole or not at all; a refused
one names its line. With ``--wait``, the runs are watched until every one has ended:
a window of the oldest unfinished ones is read in one JSON-RPC batch of ``runs.get``,
and when none of them has ended the next read waits on the oldest (``runs.wait``),
so an idle wait costs nothing. A bar on a terminal shows runs done and failed.
"""

from __future__ import annotations

import sys

from seqd.cli.inputs import UsageError, build_input, json_object
from seqd.cli.output import text_of
from seqd.cli.parser.runs import EACH_BATCH
from seqd.cli.progress import Bar, on_terminal
from seqd.cli.reconnect import INTERRUPTED, patient
from seqd.client import RpcError
from seqd.model.status import TERMINAL

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterable
    from typing import Any

    from seqd.cli.output import Out
    from seqd.client import Client

    Line = tuple[int, dict[str, Any]]
    """(line number, the run's input)."""

WINDOW = 500
"""Unfinished runs read per JSON-RPC batch while waiting (the daemon allows 1,000)."""
IDLE_WAIT_S = 0.5
"""How long a read waits on the oldest unfinished run when none of the window ended."""
FAILURES_SHOWN = 20


def run_each(client: Client, args: argparse.Namespace, out: Out) -> int:
    if args.detach or args.follow or args.timeout is not None:
        raise UsageError("--each goes with --wait, not with --detach, --follow or --timeout")
    if args.each == "-" and args.input == "-":
        raise UsageError("--each - and --input - cannot both read stdin")
    base = build_input(args.input, args.items)
    if args.each == "-":
        lines = read_lines(sys.stdin, "stdin", base)
    else:
        try:
            with open(args.each, encoding="utf-8") as f:
                lines = read_lines(f, args.each, base)
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise UsageError(f"--each: cannot read {args.each}: {reason}") from None
    if not lines:
        raise UsageError(f"--each: {args.each} holds no input (one JSON object per line)")
    ids = _submit(client, args, lines, out)
    if not args.wait:
        out.result({"ids": ids}, lambda _: out.stdout.write("".join(f"{i}\n" for i in ids)))
        return 0
    try:
        return _wait_all(client, ids, [n for n, _ in lines], out)
    except KeyboardInterrupt:
        out.error(
            f"\n{len(ids):,} runs continue in the background (seqctl runs ls --task {args.task})"
        )
        return INTERRUPTED


def read_lines(source: Iterable[str], name: str, base: dict[str, Any]) -> list[Line]:
    """Each non-blank line as a run's input (on top of ``base``, the --input/-i object)."""
    lines: list[Line] = []
    for number, text in enumerate(source, 1):
        if not text.strip():
            continue
        value = json_object(text, f"{name} line {number}", "--each")
        lines.append((number, {**base, **value}))
    return lines


def _submit(client: Client, args: argparse.Namespace, lines: list[Line], out: Out) -> list[str]:
    bar = Bar(out.stderr, len(lines), "submitted") if on_terminal(out) else None
    ids: list[str] = []
    for start in range(0, len(lines), EACH_BATCH):
        chunk = lines[start : start + EACH_BATCH]
        key = args.idempotency_key
        keys = [f"{key}:{number}" for number, _ in chunk] if key else None
        try:
            answer = client.submit_many(
                args.task,
                [data for _, data in chunk],
                idempotency_keys=keys,
                priority=args.priority,
            )
        except RpcError as exc:
            if bar is not None:
                bar.clear()
            index = exc.details.get("index")
            if isinstance(index, int) and 0 <= index < len(chunk):
                exc.details["line"] = chunk[index][0]
                exc.message = f"line {chunk[index][0]}: {exc.message}"
            if ids:
                out.error(
                    f"{len(ids):,} runs of the lines before were accepted; this batch "
                    f"(lines {chunk[0][0]}-{chunk[-1][0]}) and the rest were not"
                )
            raise
        ids.extend(answer.ids)
        if bar is not None:
            bar.draw(len(ids), force=True)
    if bar is not None:
        bar.clear()
    return ids


def _wait_all(client: Client, ids: list[str], numbers: list[int], out: Out) -> int:
    bar = Bar(out.stderr, len(ids)) if on_terminal(out) else None
    pending = list(range(len(ids)))  # indexes of unfinished runs, oldest first
    ended: dict[int, Any] = {}
    failed = 0
    while pending:
        window = pending[:WINDOW]
        runs = patient(out, client.batch, [("runs.get", {"id": ids[i]}) for i in window])
        still: list[int] = []
        for i, run in zip(window, runs, strict=True):
            if isinstance(run, RpcError):
                raise run
            if run.status in TERMINAL:
                ended[i] = _outcome(run)
                failed += run.status != "succeeded"
            else:
                still.append(i)
        pending = still + pending[WINDOW:]
        if bar is not None:
            bar.draw(len(ended), failed)
        if pending and len(still) == len(window):
            patient(out, client.wait, ids[pending[0]], IDLE_WAIT_S)  # returns when it ends
    if bar is not None:
        bar.clear()
    return _report(ids, numbers, ended, out)


def _outcome(run: Any) -> dict[str, Any]:
    """What is kept of an ended run: its status and, if it failed, why."""
    error = run.error
    return {"status": run.status, "error": None if error is None else dict(error)}


def _report(ids: list[str], numbers: list[int], ended: dict[int, Any], out: Out) -> int:
    statuses: dict[str, int] = {}
    for outcome in ended.values():
        statuses[outcome["status"]] = statuses.get(outcome["status"], 0) + 1
    failures = [
        {"line": numbers[i], "id": ids[i], **ended[i]}
        for i in sorted(ended)
        if ended[i]["status"] != "succeeded"
    ]
    summary = {"ids": ids, "statuses": statuses, "failed": failures}
    out.result(summary, lambda _: _print_summary(len(ids), statuses, failures, out))
    return 1 if failures else 0


def _print_summary(
    total: int, statuses: dict[str, int], failures: list[dict[str, Any]], out: Out
) -> None:
    counts = ", ".join(f"{n:,} {status}" for status, n in sorted(statuses.items()))
    out.line(f"{total:,} runs: {counts}")
    for failure in failures[:FAILURES_SHOWN]:
        error = failure["error"] or {}
        why = f"{error.get('type')}: {text_of(error.get('message'))}" if error else ""
        out.error(f"line {failure['line']}: run {failure['id']} {failure['status']} {why}")
    if len(failures) > FAILURES_SHOWN:
        out.error(
            f"... and {len(failures) - FAILURES_SHOWN:,} more (seqctl runs ls --status failed)"
        )
