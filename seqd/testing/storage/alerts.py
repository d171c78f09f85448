"""Alert history: every change of an alert's state, numbered, listed newest first.

Its own module because the history is its own record: seqs that only grow across all
rules and reopens, a page by rule and "before seq", and events given back exactly as
they were stored (any JSON in ``details``).
"""

from __future__ import annotations

import asyncio

import pytest

from seqd.errors import ValidationFailed
from seqd.model.alerts import NewAlertEvent
from seqd.model.timeutil import now
from seqd.testing.storage.support import BackendMaker, Cases, opened


def event(rule: str, state: str = "firing", **fields: object) -> NewAlertEvent:
    previous = {"pending": "inactive", "firing": "pending", "resolved": "firing"}.get(
        state, "pending"
    )
    return NewAlertEvent(ts=now(), rule=rule, state=state, previous=previous, **fields)  # type: ignore[arg-type]


class AlertCases(Cases):
    """``append_alert_event`` and ``list_alert_events``."""

    def test_alert_events_round_trip_newest_first(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            details = {"runs": ["0a1b", "0a1c"], "text": "nul\x00 ü ☃", "n": 2**60}
            async with opened(make_backend) as b:
                assert await b.list_alert_events() == []
                first = await b.append_alert_event(event("etl-failing", "pending"))
                second = await b.append_alert_event(
                    event("etl-failing", value=0.25, message="too many", details=details)
                )
                other = await b.append_alert_event(event("rss", severity="critical"))
                assert first < second < other
                listed = await b.list_alert_events()
                assert [e.seq for e in listed] == [other, second, first]
                got = listed[1]
                assert (got.rule, got.state, got.previous) == ("etl-failing", "firing", "pending")
                assert (got.value, got.message, got.details) == (0.25, "too many", details)
                assert listed[0].severity == "critical"
            async with opened(make_backend) as b:  # durable across a reopen, seqs go on
                assert [e.seq for e in await b.list_alert_events()] == [other, second, first]
                later = await b.append_alert_event(event("rss", "resolved"))
                assert later > other

        self.run(main())

    def test_alert_events_by_rule_and_pages(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                seqs = [
                    await b.append_alert_event(event("a" if i % 3 else "b", value=float(i)))
                    for i in range(10)
                ]
                only_b = await b.list_alert_events(rule="b")
                assert [e.seq for e in only_b] == [seqs[9], seqs[6], seqs[3], seqs[0]]
                page = await b.list_alert_events(limit=4)
                assert [e.seq for e in page] == seqs[9:5:-1]
                rest = await b.list_alert_events(before=page[-1].seq, limit=100)
                assert [e.seq for e in rest] == seqs[5::-1]
                a_page = await b.list_alert_events(rule="a", before=seqs[5], limit=2)
                assert [e.seq for e in a_page] == [seqs[4], seqs[2]]
                assert await b.list_alert_events(rule="nobody") == []
                assert await b.list_alert_events(limit=0) == []
                with pytest.raises(ValidationFailed):
                    await b.list_alert_events(limit=-1)

        self.run(main())

    def test_concurrent_alert_events_get_distinct_seqs(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                seqs = await asyncio.gather(
                    *(b.append_alert_event(event(f"r{i % 4}")) for i in range(40))
                )
                assert len(set(seqs)) == 40
                listed = await b.list_alert_events(limit=1000)
                assert sorted(e.seq for e in listed) == sorted(seqs)

        self.run(main())
