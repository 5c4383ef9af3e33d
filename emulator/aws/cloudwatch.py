"""CloudWatch metrics: datapoints of finished minutes rolled into one statistic set per minute, then dropped.

Standard-resolution metrics are kept as 1-minute points by AWS too (15 days, then coarser:
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#metrics-retention); the
emulator keeps them `EMULATOR_METRICS_RETENTION_DAYS`. moto's datum classes are built here, checked by signature.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.cloudwatch.models import CloudWatchBackend, MetricAggregatedDatum, MetricDatum

from emulator.aws.registry import Internal

AGGREGATED_DATUM = Internal(MetricAggregatedDatum, "__init__",
                            ("self", "namespace", "name", "min_stat", "max_stat", "sample_count", "sum_stat",
                             "dimensions", "timestamp", "unit"))


INTERNALS = (AGGREGATED_DATUM,)


def roll_up_metrics(backend: CloudWatchBackend, now: datetime, keep: timedelta) -> tuple[int, int]:
    """Rolls the single datapoints of finished minutes into per-minute statistic sets and drops those older than
    `keep`: (rolled, dropped)."""
    minute = now.replace(second=0, microsecond=0)
    oldest = now - keep
    cut = len(backend.metric_data)
    kept: list[Any] = []
    dropped = 0
    groups: dict[tuple[Any, ...], list[MetricDatum]] = defaultdict(list)
    for datum in backend.metric_data[:cut]:
        moment = _as_utc(datum.timestamp)
        if moment < oldest:
            dropped += 1
        elif isinstance(datum, MetricDatum) and moment < minute:
            dimensions = tuple((d.name, d.value) for d in datum.dimensions)
            start = datum.timestamp.replace(second=0, microsecond=0)  # keeps the datum's own tz-awareness
            groups[(datum.namespace, datum.name, dimensions, datum.unit, start)].append(datum)
        else:
            kept.append(datum)
    for (namespace, name, dimensions, unit, start), points in groups.items():
        values = [p.value for p in points]
        kept.append(MetricAggregatedDatum(
            namespace=namespace, name=name, min_stat=min(values), max_stat=max(values),
            sample_count=float(len(values)), sum_stat=sum(values),
            dimensions=[{"Name": k, "Value": v} for k, v in dimensions], timestamp=start, unit=unit))
    kept.sort(key=lambda d: _as_utc(d.timestamp))
    backend.metric_data[:cut] = kept  # one list operation: datapoints put meanwhile (after `cut`) stay
    return sum(len(points) for points in groups.values()), dropped


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
