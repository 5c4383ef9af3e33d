"""LogTail (`logs --follow`, the console): every event once, in time order, late ones included."""

from __future__ import annotations

from typing import Any

from emulator.console.tail import LogTail
from emulator.lambda_runtime.shipper import SHIP_PATIENCE_SECONDS

GROUP = "/aws/lambda/door"


class _Logs:
    """filter_log_events over a list of events, as CloudWatch Logs filters by startTime."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def add(self, event_id: str, timestamp: int) -> None:
        self.events.append({"eventId": event_id, "timestamp": timestamp, "message": event_id, "logStreamName": "s"})

    def get_paginator(self, name: str) -> _Logs:
        assert name == "filter_log_events"
        return self

    def paginate(self, logGroupName: str, startTime: int) -> list[dict[str, Any]]:
        assert logGroupName == GROUP
        return [{"events": [e for e in self.events if e["timestamp"] >= startTime]}]


def _ids(events: list[dict[str, Any]]) -> list[str]:
    return [e["eventId"] for e in events]


def test_each_event_is_read_once_in_time_order() -> None:
    logs = _Logs()
    tail = LogTail(logs, GROUP, since_ms=1_000)
    logs.add("b", 3_000)
    logs.add("a", 2_000)
    assert _ids(tail.read()) == ["a", "b"]
    logs.add("c", 4_000)
    assert _ids(tail.read()) == ["c"]
    assert tail.read() == []


def test_a_batch_the_shipper_retried_is_still_read_when_it_arrives() -> None:
    """A batch shipped after retries carries its lines' own times, up to the shipper's patience before the newest
    event already read."""
    logs = _Logs()
    newest = 100_000
    tail = LogTail(logs, GROUP, since_ms=0)
    logs.add("on time", newest)
    assert _ids(tail.read()) == ["on time"]
    logs.add("retried", newest - int(SHIP_PATIENCE_SECONDS * 1000))
    assert _ids(tail.read()) == ["retried"]
