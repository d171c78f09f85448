"""The command lines of ``seqctl metrics`` and ``seqctl alerts [history]``."""

from __future__ import annotations

import argparse

from seqd.cli.parser.builder import Builder, Subs, limit

METRICS_EPILOG = """\
Without --prometheus: one line per series (histograms: count, sum and average).
With it: the Prometheus text format, exactly what the HTTP exporter serves.

examples:
  seqctl metrics                             every metric
  seqctl metrics --prefix seqd_runs          runs submitted, started, finished, stored
  seqctl metrics --prometheus > metrics.txt
"""

ALERTS_EPILOG = """\
`seqctl alerts` lists every rule with its state, then the latest changes;
`seqctl alerts history` pages through all changes (newest first).

examples:
  seqctl alerts
  seqctl alerts history --rule etl-failing --limit 20
"""


def add_metrics(b: Builder, nouns: Subs) -> None:
    metrics = b.sub(
        nouns, "metrics", "show the daemon's metrics", ("observe", "metrics"), METRICS_EPILOG
    )
    metrics.add_argument(
        "--prometheus", action="store_true", help="print the Prometheus text format"
    )
    metrics.add_argument("--prefix", metavar="P", help="only metrics whose name starts with P")


def add_alerts(b: Builder, nouns: Subs) -> None:
    alerts = b.sub(
        nouns,
        "alerts",
        "show alert rules, their state and recent changes",
        ("observe", "alerts"),
        ALERTS_EPILOG,
    )
    alerts.add_argument(
        "--recent", type=limit, default=10, metavar="N", help="latest changes shown (10)"
    )
    verbs = alerts.add_subparsers(
        title="commands", metavar="<command>", dest="alerts_command", prog="seqctl alerts"
    )
    history = b.sub(
        verbs, "history", "alert state changes, newest first", ("observe", "alert_history")
    )
    history.add_argument("--rule", metavar="NAME", help="only this rule's changes")
    history.add_argument(
        "--limit", type=limit, default=50, metavar="N", help="changes per page (50)"
    )
    history.add_argument("--before", type=_seq, metavar="SEQ", help="only changes before SEQ")


def _seq(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a seq (a whole number from 1): {text!r}")
    return int(text)
