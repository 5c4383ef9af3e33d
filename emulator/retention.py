"""Retention as AWS does it, swept in a background thread (every `EMULATOR_RETENTION_SWEEP_SECONDS`, default 60):

- S3 lifecycle `Expiration.Days` (prefix filters): an object expires at the first midnight UTC at least that many
  days after it was written, as S3 rounds it; current versions of unversioned buckets;
- CloudWatch Logs `RetentionInDays`: older events are dropped; a stream whose last event expired is deleted;
- CloudWatch metrics: datapoints of minutes that are over are rolled into one statistic set per minute
  (standard resolution: AWS keeps 1-minute points too) and kept for `EMULATOR_METRICS_RETENTION_DAYS` (default 3;
  AWS keeps 1-minute points 15 days, then coarser ones);
- SQS: moto remembers the receipt handle of every message ever deleted (so a second delete succeeds); handles are
  forgotten after one to two sweeps.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.cloudwatch.models import CloudWatchBackend, MetricAggregatedDatum, MetricDatum, cloudwatch_backends
from moto.logs.models import LogsBackend, logs_backends
from moto.s3.models import FakeBucket, FakeKey, S3Backend, s3_backends
from moto.sqs.models import SQSBackend, sqs_backends

from emulator.allocator import release_free_memory
from emulator.state import EventLog

logger = logging.getLogger(__name__)


@dataclass
class SweepReport:
    """What one sweep removed."""

    objects: int = 0
    log_events: int = 0
    log_streams: int = 0
    datapoints_rolled: int = 0
    datapoints_dropped: int = 0
    receipt_handles: int = 0


def _backends(backend_dict: Any) -> list[Any]:
    return [backend for regions in list(backend_dict.values()) for backend in list(regions.values())]


def expiry(written: datetime, days: int) -> datetime:
    """When S3 expires an object written at `written` under a `days` rule: the next midnight UTC after the days."""
    due = written.astimezone(UTC) + timedelta(days=days)
    midnight = due.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight if midnight == due else midnight + timedelta(days=1)


def _expiring_rules(bucket: FakeBucket) -> list[tuple[str, int]]:
    """(prefix, days) of the bucket's enabled expiration rules that filter by prefix only."""
    rules = []
    for rule in bucket.rules:
        if rule.status != "Enabled" or not rule.expiration_days:
            continue
        lc_filter = rule.filter
        if lc_filter is not None and (lc_filter.tag_key or lc_filter.and_filter):
            continue
        prefix = rule.prefix if rule.prefix is not None else (lc_filter.prefix if lc_filter else "") or ""
        rules.append((prefix, int(rule.expiration_days)))
    return rules


def expire_objects(backend: S3Backend, now: datetime) -> int:
    """Deletes the objects the buckets' lifecycle rules say are expired; returns how many."""
    removed = 0
    for bucket in list(backend.buckets.values()):
        rules = _expiring_rules(bucket)
        if not rules or bucket.is_versioned:
            continue
        for name, key in list(bucket.keys.items()):
            if not isinstance(key, FakeKey):
                continue
            written = key.last_modified.replace(tzinfo=UTC) if key.last_modified.tzinfo is None else key.last_modified
            if any(name.startswith(prefix) and expiry(written, days) <= now for prefix, days in rules):
                backend.delete_object(bucket.name, name)
                removed += 1
    return removed


def expire_log_events(backend: LogsBackend, now: datetime, report: SweepReport) -> None:
    """Drops events older than their group's RetentionInDays; deletes the streams left with none."""
    for group in list(backend.groups.values()):
        if not group.retention_in_days:
            continue
        cutoff = int((now - timedelta(days=int(group.retention_in_days))).timestamp() * 1000)
        for name, stream in list(group.streams.items()):
            events: EventLog = stream.events
            report.log_events += events.expire(cutoff)
            if not events and stream.creation_time.replace(tzinfo=UTC).timestamp() * 1000 < cutoff:
                events.remove()
                group.streams.pop(name, None)
                report.log_streams += 1


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def roll_up_metrics(backend: CloudWatchBackend, now: datetime, keep: timedelta, report: SweepReport) -> None:
    """Rolls the single datapoints of finished minutes into per-minute statistic sets; drops those older than keep."""
    minute = now.replace(second=0, microsecond=0)
    oldest = now - keep
    cut = len(backend.metric_data)
    head = backend.metric_data[:cut]
    kept: list[Any] = []
    groups: dict[tuple[Any, ...], list[MetricDatum]] = defaultdict(list)
    for datum in head:
        moment = _as_utc(datum.timestamp)
        if moment < oldest:
            report.datapoints_dropped += 1
        elif isinstance(datum, MetricDatum) and moment < minute:
            dimensions = tuple((d.name, d.value) for d in datum.dimensions)
            start = datum.timestamp.replace(second=0, microsecond=0)  # keeps the datum's own tz-awareness
            groups[(datum.namespace, datum.name, dimensions, datum.unit, start)].append(datum)
        else:
            kept.append(datum)
    for (namespace, name, dimensions, unit, start), points in groups.items():
        values = [p.value for p in points]
        kept.append(MetricAggregatedDatum(namespace, name, min(values), max(values), float(len(values)), sum(values),
                                          [{"Name": k, "Value": v} for k, v in dimensions], start, unit))
        report.datapoints_rolled += len(points)
    kept.sort(key=lambda d: _as_utc(d.timestamp))
    backend.metric_data[:cut] = kept  # one list operation: datapoints put meanwhile (after `cut`) stay


@dataclass
class _ReceiptAging:
    """The receipt handles of deleted messages seen at the last sweep, per queue: forgotten at the next one."""

    seen: dict[int, set[str]] = field(default_factory=dict)

    def age(self, backend: SQSBackend, report: SweepReport) -> None:
        for queue in list(backend.queues.values()):
            old = self.seen.get(id(queue), set())
            queue.deleted_messages.difference_update(old)
            report.receipt_handles += len(old)
            self.seen[id(queue)] = set(queue.deleted_messages)


class Retention:
    """The sweep thread."""

    def __init__(self, period_seconds: float, metrics_days: float) -> None:
        self._period = period_seconds
        self._metrics_keep = timedelta(days=metrics_days)
        self._receipts = _ReceiptAging()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sweep_forever, name="retention", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def sweep(self, now: datetime | None = None) -> SweepReport:
        """One pass over every backend in use."""
        now = now or datetime.now(UTC)
        report = SweepReport()
        for s3 in _backends(s3_backends):
            report.objects += expire_objects(s3, now)
        for logs in _backends(logs_backends):
            expire_log_events(logs, now, report)
        for cloudwatch in _backends(cloudwatch_backends):
            roll_up_metrics(cloudwatch, now, self._metrics_keep, report)
        for sqs in _backends(sqs_backends):
            self._receipts.age(sqs, report)
        return report

    def _sweep_forever(self) -> None:
        while not self._stop.wait(self._period):
            try:
                report = self.sweep()
            except Exception:  # a sweep that fails must not end retention: logged, tried again next period
                logger.exception("retention sweep failed")
                continue
            release_free_memory()  # what the sweep and the period's traffic freed goes back to the system
            if report.objects or report.log_events or report.datapoints_dropped:
                logger.info("retention: %s", report)
