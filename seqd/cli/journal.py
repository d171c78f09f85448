"""``seqctl runs steps`` (a run's journal) and ``seqctl runs show --tree`` (a run with
all its descendants): how a flow went, state by state."""

from __future__ import annotations

import re

from seqd.cli.output import clock, compact_json, duration, elapsed, truncate

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from seqd.cli.output import Out
    from seqd.client import Client
    from seqd.model.runs import Run, Step

STEP_PAGE = 1000
DETAIL_WIDTH = 80
_SUFFIX = re.compile(r"#(\d+)\.(\d+)")


def steps(client: Client, args: argparse.Namespace, out: Out) -> int:
    after = args.after
    found: list[Step] = []
    run_id = client.get_run(args.id).id  # resolves a prefix or `last` once, for every page
    while True:
        page = client.steps(run_id, after, STEP_PAGE)
        found.extend(page.steps)
        after = page.next
        if len(page.steps) < STEP_PAGE:
            break
    out.result({"steps": found, "next": after}, lambda _: _print_steps(found, out))
    return 0


def _print_steps(found: list[Step], out: Out) -> None:
    if not found:
        out.line("no steps recorded")
        return
    rows = [(s.seq, clock(s.ts), s.kind, s.name, s.status, _detail(s.kind, s.data)) for s in found]
    out.table(["seq", "time", "kind", "state", "status", "detail"], rows)


def _detail(kind: str, data: dict[str, object]) -> str:
    """What a journal entry says, on one line."""
    if kind == "transition":
        return f"{data.get('from')} → {data.get('to')} ({data.get('why')})"
    parts = []
    error = data.get("error")
    if isinstance(error, dict):
        parts.append(f"{error.get('type')}: {error.get('message')}")
    else:
        for key in ("output", "result", "payload"):
            if data.get(key) is not None:
                parts.append(f"{key} {compact_json(data[key])}")
                break
    if data.get("child_id"):
        parts.append(f"run {data['child_id']}")
    if kind in ("timer", "sleep"):
        parts.append(f"waits {data.get('seconds', 0):.3g}s")
    elif kind == "deadline":
        parts.append(f"must end within {data.get('seconds', 0):.3g}s")
    return truncate("; ".join(parts), DETAIL_WIDTH)


def label(run: Run) -> str:
    """The state a child run executed, from the key its parent started it under:
    ``par#1.1[0]/fetch#1.2`` reads ``par[0]/fetch (attempt 2)``."""
    key = run.idempotency_key or ""
    if run.parent_id is None or not key.startswith(f"{run.parent_id}."):
        return run.task
    _, _, path = key.partition(":")
    path = re.sub(r"^a\d+/", "", path)
    attempts = [int(a) for _, a in _SUFFIX.findall(path)]
    text = _SUFFIX.sub(lambda m: "" if m.group(1) == "1" else f"#{m.group(1)}", path)
    text = text.replace("!", " (compensation)")
    if attempts and attempts[-1] > 1:
        text += f" (attempt {attempts[-1]})"
    return text


def tree(client: Client, args: argparse.Namespace, out: Out) -> int:
    root = client.get_run(args.id)
    rows: list[tuple[str, Run]] = []
    # Depth-first, children oldest first; iterative, so any depth prints.
    stack: list[tuple[Run, str, str]] = [(root, "", "")]
    while stack:
        run, lead, rest = stack.pop()
        rows.append((lead, run))
        children = list(client.iter_runs(parent_id=run.id, limit=500))
        children.reverse()  # the API lists newest first
        for i in range(len(children) - 1, -1, -1):
            last = i == len(children) - 1
            stack.append(
                (children[i], rest + ("└─ " if last else "├─ "), rest + ("   " if last else "│  "))
            )
    out.result({"runs": [r for _, r in rows]}, lambda _: _print_tree(rows, out))
    return 0


def _print_tree(rows: list[tuple[str, Run]], out: Out) -> None:
    table = [
        (
            lead + (label(r) if r.parent_id else r.task),
            r.task,
            r.status,
            duration(elapsed(r.started_at, r.finished_at)),
            r.error.type if r.error else "",
            r.id,
        )
        for lead, r in rows
    ]
    out.table(["state", "task", "status", "duration", "error", "id"], table)
