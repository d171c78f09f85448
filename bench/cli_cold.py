"""Benchmark 2: ``seqctl status`` cold wall time (a fresh process each time, as a user
types it), against ``python -c pass`` measured alternately in the same run."""

from __future__ import annotations

import logging
import os
import re
import subprocess
from pathlib import Path

from bench import stats
from bench.harness import PYTHON, UNWANTED_ENV, running, timed_run
from bench.report import Outcome, Row
from bench.settings import Settings

logger = logging.getLogger(__name__)

PER_REP = 10
TARGET_S = 0.025
IMPORTS_ONLY = "import seqd.cli.main, seqd.cli.commands"
"""The modules ``seqctl status`` loads, without running anything."""
_IMPORT_LINE = re.compile(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)")


def seqctl_command() -> list[str]:
    script = Path(PYTHON).parent / "seqctl"
    if script.exists():
        return [str(script), "status"]
    return [PYTHON, "-m", "seqd.cli", "status"]


def user_env(socket: str) -> dict[str, str]:
    """What a user's shell would pass: their environment plus the daemon's socket
    (bytecode caching on, as in a normal install; see ``harness.child_env``)."""
    unwanted = ("PYTHONPATH", *UNWANTED_ENV)
    env = {k: v for k, v in os.environ.items() if k not in unwanted}
    env["SEQD_SOCKET"] = socket
    return env


def wall(cmd: list[str], env: dict[str, str]) -> float:
    return timed_run(cmd, env, timeout=60)


def _importtime(argv: list[str], env: dict[str, str]) -> list[tuple[int, int, int, str]]:
    """(self µs, cumulative µs, depth, module) per import, the quietest of three runs."""
    best: list[tuple[int, int, int, str]] = []
    for _ in range(3):
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
        rows = [
            (int(m[1]), int(m[2]), (len(m[3]) - 1) // 2, m[4])
            for m in _IMPORT_LINE.finditer(done.stderr)
        ]
        if not best or _total(rows) < _total(best):
            best = rows
    return best


def _total(rows: list[tuple[int, int, int, str]]) -> int:
    return sum(cum for _, cum, depth, _ in rows if depth == 0)


def _ours(module: str) -> bool:
    return module == "seqd" or module.startswith("seqd.")


def _importers(rows: list[tuple[int, int, int, str]]) -> dict[str, str]:
    """Module → the module whose import pulled it in. ``-X importtime`` lists a module
    after everything it imported, one indentation level deeper."""
    parent: dict[str, str] = {}
    pending: list[tuple[int, str]] = []
    for _, _, depth, name in rows:
        while pending and pending[-1][0] > depth:
            parent[pending.pop()[1]] = name
        pending.append((depth, name))
    return parent


def import_offenders(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Import time seqctl adds over a bare interpreter, and a markdown table of the
    worst of those imports (outermost by cumulative time, any depth by self time)."""
    argv = [PYTHON, "-X", "importtime", *(cmd[1:] if cmd[0] == PYTHON else cmd)]
    base = _importtime([PYTHON, "-X", "importtime", "-c", "pass"], env)
    seen = {name for *_, name in base}
    ours = [row for row in _importtime(argv, env) if row[3] not in seen]
    added_us = sum(cum for _, cum, depth, _ in ours if depth == 0)
    importer = _importers(ours)
    external = sorted(
        (r for r in ours if not _ours(r[3]) and _ours(importer.get(r[3], ""))),
        key=lambda r: -r[1],
    )[:10]
    own_us = sum(own for own, _, _, name in ours if _ours(name))
    lines = [
        f"Imports `seqctl status` adds over `python -c pass` (`python -X importtime`, "
        f"quietest of 3 runs each): {added_us / 1000:.1f} ms in all; seqd's own modules "
        f"take {own_us / 1000:.1f} ms of it (self time), the rest is what they import:\n",
        "| import made by seqd code | imported by | cumulative |",
        "|---|---|---|",
    ]
    for _, cum, _, name in external:
        lines.append(f"| `{name}` | `{importer[name]}` | {cum / 1000:.1f} ms |")
    return added_us / 1e6, "\n".join(lines)


def run(settings: Settings) -> Outcome:
    cmd = seqctl_command()
    per_rep = settings.count(PER_REP, 2)
    imports_only = [PYTHON, "-c", IMPORTS_ONLY]
    reps_cli: list[float] = []
    reps_py: list[float] = []
    reps_imp: list[float] = []
    with running("cli") as daemon:
        env = user_env(daemon.socket)
        check = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
        if check.returncode != 0 or "pid" not in check.stdout.lower():
            raise RuntimeError(f"seqctl status failed ({check.returncode}): {check.stderr}")
        for _ in range(3):
            wall(cmd, env)
            wall([PYTHON, "-c", "pass"], env)
            wall(imports_only, env)
        for _ in range(settings.reps):
            cli: list[float] = []
            py: list[float] = []
            imp: list[float] = []
            for _ in range(per_rep):
                cli.append(wall(cmd, env))
                py.append(wall([PYTHON, "-c", "pass"], env))
                imp.append(wall(imports_only, env))
            reps_cli.append(stats.median(cli))
            reps_py.append(stats.median(py))
            reps_imp.append(stats.median(imp))
        cli50, py50, imp50 = (
            stats.median(reps_cli),
            stats.median(reps_py),
            stats.median(reps_imp),
        )
        blocks: list[str] = []
        if cli50 > TARGET_S or settings.scale < 1:
            blocks.append(import_offenders(cmd, env)[1])
    rows = [
        Row(
            id="2",
            name="`seqctl status` cold wall time",
            figure=stats.ms(cli50),
            baseline=f"{stats.ms(py50)} (`python -c pass`)",
            ratio=f"+{stats.ms(cli50 - py50)} ({stats.ratio(cli50, py50)})",
            target="≤ 25 ms",
            met=cli50 <= TARGET_S,
        )
    ]
    notes = [
        f"`{' '.join(Path(c).name if i == 0 else c for i, c in enumerate(cmd))}` with "
        f"`SEQD_SOCKET` set; {settings.reps} repetitions of {per_rep} alternating launches "
        "each (median per repetition, then the median of those), after 3 warm-up launches "
        "of each. Wall time includes fork/exec from the bench process, the same for both. "
        f"Repetition medians ranged {stats.spread(reps_cli, stats.ms)} (seqctl), "
        f"{stats.spread(reps_py, stats.ms)} (python -c pass).",
        f"The ratio column shows the difference to the baseline: what seqctl itself costs "
        f"over a bare interpreter start ({stats.ms(py50)}).",
    ]
    notes.append(
        f'What limits it: `python -c "{IMPORTS_ONLY}"` takes {stats.ms(imp50)} '
        f"(same alternation), so importing the CLI costs {stats.ms(imp50 - py50)} over "
        f"the bare interpreter and everything else — parsing arguments, connecting, the "
        f"`daemon.status` round trip, printing — {stats.ms(cli50 - imp50)}."
        + (" The worst imports are below." if blocks else "")
    )
    return Outcome(key="2", title="seqctl status, cold", rows=rows, notes=notes, blocks=blocks)
