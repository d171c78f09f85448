"""The waterfall of ``seqctl runs trace``: tree order, bars on one time line, failed and
open spans marked, the width kept, an ASCII fallback."""

from __future__ import annotations

from types import SimpleNamespace as NS

from seqd.cli.waterfall import Glyphs, render

ROOT = "a" * 16


def span(
    name: str, span_id: str, parent: str | None, start: str, end: str | None, failed: bool = False
) -> NS:
    error = "exception: boom" if failed else None
    return NS(
        name=name,
        span_id=span_id,
        parent_span_id=parent,
        start=start,
        end=end,
        failed=failed,
        error=error,
        run_id="r" * 24,
    )


def result(*spans: NS) -> NS:
    return NS(trace_id="1" * 32, root_id="r" * 24, spans=list(spans), truncated=False)


def test_spans_are_drawn_in_tree_order_on_one_time_line() -> None:
    trace = result(
        span("run flow", ROOT, None, "2026-01-01T00:00:00Z", "2026-01-01T00:00:10Z"),
        span("state b", "b" * 16, ROOT, "2026-01-01T00:00:05Z", "2026-01-01T00:00:10Z", True),
        span("state a", "c" * 16, ROOT, "2026-01-01T00:00:00Z", "2026-01-01T00:00:05Z"),
        span("run child", "d" * 16, "c" * 16, "2026-01-01T00:00:01Z", "2026-01-01T00:00:04Z"),
    )
    lines = render(trace, 80, Glyphs(unicode=True)).splitlines()
    body = lines[2:6]
    assert [line[2:].strip().split("  ")[0] for line in body] == [
        "run flow", "state a", "run child", "state b"
    ]  # fmt: skip
    assert body[2][2:].startswith("    run child")  # two levels down
    assert all(len(line) <= 80 for line in lines)
    full, first_half, second_half = body[0], body[1], body[3]
    assert full.count("█") > first_half.count("█") > 0
    assert second_half.startswith("✗") and "▓" in second_half and "█" not in second_half
    # The second half's bar starts where the first half's ends.
    assert first_half.rstrip().endswith("█") and len(first_half.rstrip()) < len(full.rstrip())
    assert lines[-1].startswith("✗ state b") and "boom" in lines[-1]


def test_open_spans_narrow_widths_and_ascii() -> None:
    trace = result(
        span("run " + "x" * 200, ROOT, None, "2026-01-01T00:00:00Z", None),
    )
    text = render(trace, 50, Glyphs(unicode=False))
    line = text.splitlines()[2]
    assert "-" in line and "█" not in text and "…" not in text
    assert len(line) <= 50 + 0
    assert render(result(), 50, Glyphs(unicode=True)).endswith("0 spans")
