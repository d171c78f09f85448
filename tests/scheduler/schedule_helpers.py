"""What the scheduler's daemon tests share: waiting for a condition, reading times,
listing a schedule's runs, and expecting a refusal."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from seqd.client import RpcError


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def seconds(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


def runs_of(client: Any, schedule: str) -> list[Any]:
    return list(client.iter_runs(schedule=schedule, limit=100))


def refused(call: Callable[[], Any], kind: str, field: str | None = None) -> RpcError:
    with pytest.raises(RpcError) as caught:
        call()
    assert caught.value.type == kind, caught.value
    if field is not None:
        assert caught.value.details.get("field") == field, caught.value
    return caught.value
