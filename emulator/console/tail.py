"""Reading a function's CloudWatch Logs incrementally (`filter_log_events`), for `logs --follow` and the console."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from emulator.lambda_runtime.shipper import SHIP_PATIENCE_SECONDS

LogEvent = dict[str, Any]  # filter_log_events' event: timestamp (epoch ms), message, logStreamName, eventId
# Events arrive out of order across streams, and a batch the log shipper retries arrives up to its patience late:
# each read looks this far back, deduplicated by id.
LATE_MS = int((SHIP_PATIENCE_SECONDS + 5) * 1000)


def log_group(function_name: str) -> str:
    return f"/aws/lambda/{function_name}"


class LogTail:
    """The events of one log group since a time, each returned once, in time order, across calls to `read`."""

    def __init__(self, logs: Any, group: str, since_ms: int, pattern: str | None = None) -> None:
        self._logs, self._group, self._pattern = logs, group, pattern
        self._since = since_ms
        self._seen: dict[str, int] = {}  # eventId -> timestamp, for events newer than _since - LATE_MS

    def read(self) -> list[LogEvent]:
        """New events since the last read; [] while the group does not exist yet (the function has not run)."""
        query: dict[str, Any] = {"logGroupName": self._group, "startTime": max(0, self._since - LATE_MS)}
        if self._pattern:
            query["filterPattern"] = self._pattern
        try:
            events = [e for page in self._logs.get_paginator("filter_log_events").paginate(**query)
                      for e in page.get("events", [])]
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                return []
            raise
        fresh = sorted((e for e in events if e["eventId"] not in self._seen), key=lambda e: e["timestamp"])
        self._seen.update((e["eventId"], e["timestamp"]) for e in fresh)
        if fresh:
            self._since = max(self._since, fresh[-1]["timestamp"])
        self._seen = {event_id: ts for event_id, ts in self._seen.items() if ts >= self._since - LATE_MS}
        return fresh

    def exists(self) -> bool:
        """Whether the log group exists (a function that never ran has none)."""
        groups = self._logs.describe_log_groups(logGroupNamePrefix=self._group)["logGroups"]
        return any(g["logGroupName"] == self._group for g in groups)
