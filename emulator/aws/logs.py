"""CloudWatch Logs: a log stream's events on disk, and retention as `RetentionInDays` says.

moto 5.2.5 (pinned) keeps a stream's events as a list of objects in memory, forever. `LogStream.__init__` gives
each stream a JSON-lines file (`emulator.state.EventLog`) with only counts and first/last timestamps in memory;
`LogStream._update` reads those bounds. Older events than the group's RetentionInDays are dropped by the
retention sweep, and a stream whose last event expired is deleted
(https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html).

`LogEvent.__init__`: moto numbers events from a class counter that starts at 0 in every process (`+= 1`, not atomic
across request threads), while events restored from disk keep their ids: after a restart new events took the ids of
old ones, and FilterLogEvents readers that tell events apart by `eventId` (`emulator/console/tail.py`) dropped them.
Ids here count from the clock's microseconds at start, one shared counter, so they stay unique across restarts.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from moto.logs.models import LogEvent, LogsBackend, LogStream

from emulator.aws.registry import Internal, Patch
from emulator.state import EventLog

STREAM_INIT = Internal(LogStream, "__init__", ("self", "log_group", "name"), source="self.events")
STREAM_UPDATE = Internal(LogStream, "_update", ("self",))
EVENT_INIT = Internal(LogEvent, "__init__", ("self", "ingestion_time", "log_event"),
                      source="self.__class__._event_id += 1")
INTERNALS = (STREAM_INIT, STREAM_UPDATE, EVENT_INIT)


def state_patches(folder: Path) -> list[Patch]:
    return [Patch(STREAM_INIT, lambda original: _events_on_disk(original, folder)),
            Patch(STREAM_UPDATE, lambda _: _update_from_bounds),
            Patch(EVENT_INIT, _numbered_past_restarts)]


def _numbered_past_restarts(original: Any) -> Any:
    """Event ids from one counter that starts at the clock's microseconds: above every id an earlier run gave (it
    would have had to number more than a million events a second to catch up), and `next` is atomic."""
    event_ids = itertools.count(time.time_ns() // 1000)

    def init(event: LogEvent, ingestion_time: int, log_event: dict[str, Any]) -> None:
        original(event, ingestion_time, log_event)
        event.event_id = next(event_ids)

    return init


def expire_log_events(backend: LogsBackend, now: datetime) -> tuple[int, int]:
    """Drops events older than their group's RetentionInDays and the streams left with none: (events, streams)."""
    events_dropped = streams_deleted = 0
    for group in list(backend.groups.values()):
        if not group.retention_in_days:
            continue
        cutoff = int((now - timedelta(days=int(group.retention_in_days))).timestamp() * 1000)
        for name, stream in list(group.streams.items()):
            events: EventLog = stream.events
            events_dropped += events.expire(cutoff)
            if not events and stream.creation_time.replace(tzinfo=UTC).timestamp() * 1000 < cutoff:
                events.remove()
                group.streams.pop(name, None)
                streams_deleted += 1
    return events_dropped, streams_deleted


def _events_on_disk(original: Any, folder: Path) -> Any:
    def init(stream: LogStream, log_group: Any, name: str) -> None:
        original(stream, log_group, name)
        stream.events = EventLog(folder, hashlib.sha256(stream.arn.encode()).hexdigest()[:32])  # type: ignore[assignment]

    return init


def _update_from_bounds(stream: LogStream) -> None:
    events: EventLog = stream.events  # type: ignore[assignment]
    stream.first_event_timestamp = events.first_timestamp  # type: ignore[assignment]
    stream.last_event_timestamp = events.last_timestamp  # type: ignore[assignment]
