"""Retention as AWS does it, each service's rule in its emulator/aws module, swept in a background thread
(every `EMULATOR_RETENTION_SWEEP_SECONDS`, default 60):

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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.cloudwatch.models import cloudwatch_backends
from moto.logs.models import logs_backends
from moto.s3.models import s3_backends
from moto.sqs.models import sqs_backends

from emulator.allocator import release_free_memory
from emulator.aws import cloudwatch, logs, s3, sqs

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


class Retention:
    """The sweep thread."""

    def __init__(self, period_seconds: float, metrics_days: float) -> None:
        self._period = period_seconds
        self._metrics_keep = timedelta(days=metrics_days)
        self._receipts = sqs.ReceiptAging()
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
        for backend in _backends(s3_backends):
            report.objects += s3.expire_objects(backend, now)
        for backend in _backends(logs_backends):
            events, streams = logs.expire_log_events(backend, now)
            report.log_events += events
            report.log_streams += streams
        for backend in _backends(cloudwatch_backends):
            rolled, dropped = cloudwatch.roll_up_metrics(backend, now, self._metrics_keep)
            report.datapoints_rolled += rolled
            report.datapoints_dropped += dropped
        for backend in _backends(sqs_backends):
            report.receipt_handles += self._receipts.age(backend)
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
