"""``seqctl runs prune``: remove finished run trees older than a duration.

Its own module because it is the one seqctl command that reads a duration (``7d``,
``12h``: ``seqd.model.durations``, the syntax of ``[retention]`` too) and that an
ordinary user cannot run (``runs.prune`` is for admins).
"""

from __future__ import annotations

from seqd.cli.inputs import UsageError
from seqd.cli.output import size
from seqd.errors import ValidationFailed
from seqd.model.durations import format_duration, parse_duration

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from seqd.cli.output import Out
    from seqd.client import Client
    from seqd.model.retention import PruneTotals


def prune(client: Client, args: argparse.Namespace, out: Out) -> int:
    try:
        older_than_s = parse_duration(args.older_than, "--older-than")
    except ValidationFailed as exc:
        raise UsageError(exc.message) from None
    totals = client.prune_runs(older_than_s, args.status, args.task, dry_run=args.dry_run)

    def as_text(t: PruneTotals) -> None:
        verb = "would remove" if args.dry_run else "removed"
        what = f"{t.runs} run{'' if t.runs == 1 else 's'}"
        out.line(
            f"{verb} {what} finished more than {format_duration(older_than_s)} ago: "
            f"{t.log_lines} log lines, {t.steps} journal entries, {size(t.bytes_freed)}"
        )

    out.result(totals, as_text)
    return 0
