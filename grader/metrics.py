"""Lambda metrics as the course's graders read them: CloudWatch `AWS/Lambda` statistics and REPORT lines.

The same API calls work on AWS and on the local emulator (which publishes the same metrics and
writes AWS's START/END/REPORT lines to CloudWatch Logs `/aws/lambda/<function>`).
"""

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from contract.lambda_logs import ReportLine, parse_init_report, parse_report_line

logger = logging.getLogger(__name__)

NAMESPACE = "AWS/Lambda"
PERIOD_SECONDS = 60
WINDOW_MARGIN_SECONDS = 60
POLL_SECONDS = 1.0
REPORT_PATTERN = '"REPORT RequestId"'
INIT_REPORT_PATTERN = '"INIT_REPORT"'


@dataclass(frozen=True)
class FunctionMetrics:
    """AWS/Lambda statistics over the run's window (None: no datapoint) and the REPORT lines seen."""

    function: str
    invocations: int | None
    errors: int | None
    throttles: int | None
    duration_avg_ms: float | None
    duration_max_ms: float | None
    concurrency_max: int | None
    reports: tuple[ReportLine, ...] = ()
    snapshot_inits: tuple[float, ...] = ()

    @property
    def cold_starts(self) -> int:
        """New execution environments: REPORT lines with an Init Duration (a full INIT) or a Restore Duration."""
        return sum(r.new_environment for r in self.reports)

    @property
    def init_durations(self) -> list[float]:
        """Every INIT (ms): a cold start's own, or a snapshot's, measured once (INIT_REPORT, SnapStart)."""
        own = [r.init_duration_ms for r in self.reports if r.init_duration_ms is not None]
        return own + list(self.snapshot_inits)

    @property
    def restore_durations(self) -> list[float]:
        """Restore Durations (ms) of environments started from a snapshot."""
        return [r.restore_duration_ms for r in self.reports if r.restore_duration_ms is not None]


def read_function_metrics(cloudwatch: Any, logs: Any, function: str, start: float, end: float) -> FunctionMetrics:
    """Statistics and REPORT lines of one function between start and end (epoch s)."""
    window = (start - WINDOW_MARGIN_SECONDS, end + WINDOW_MARGIN_SECONDS)
    invocations = _statistics(cloudwatch, function, "Invocations", "Sum", window)
    errors = _statistics(cloudwatch, function, "Errors", "Sum", window)
    throttles = _statistics(cloudwatch, function, "Throttles", "Sum", window)
    durations = _statistics(cloudwatch, function, "Duration", ("Sum", "SampleCount", "Maximum"), window)
    concurrency = _statistics(cloudwatch, function, "ConcurrentExecutions", "Maximum", window)
    count = sum(p["SampleCount"] for p in durations)
    return FunctionMetrics(
        function,
        _sum(invocations),
        _sum(errors),
        _sum(throttles),
        sum(p["Sum"] for p in durations) / count if count else None,
        max((p["Maximum"] for p in durations), default=None),
        int(max(p["Maximum"] for p in concurrency)) if concurrency else None,
        tuple(read_report_lines(logs, function, start, end + WINDOW_MARGIN_SECONDS)),
        tuple(read_snapshot_inits(logs, function, start - WINDOW_MARGIN_SECONDS, end + WINDOW_MARGIN_SECONDS)),
    )


def read_report_lines(logs: Any, function: str, start: float, end: float) -> list[ReportLine]:
    """Every REPORT line of `/aws/lambda/<function>` logged between start and end (epoch s)."""
    events = _log_events(logs, function, start, end, REPORT_PATTERN)
    lines = (parse_report_line(event["message"], event["timestamp"] / 1000) for event in events)
    return [line for line in lines if line is not None]


def read_snapshot_inits(logs: Any, function: str, start: float, end: float) -> list[float]:
    """The Init Durations (ms) of the INIT_REPORT lines (one per snapshot) logged between start and end."""
    inits = (parse_init_report(event["message"]) for event in _log_events(logs, function, start, end,
                                                                          INIT_REPORT_PATTERN))
    return [init for init in inits if init is not None]


def _log_events(logs: Any, function: str, start: float, end: float, pattern: str) -> list[dict[str, Any]]:
    """The function's log events matching a filter pattern between start and end (epoch s)."""
    pages = logs.get_paginator("filter_log_events").paginate(
        logGroupName=f"/aws/lambda/{function}",
        startTime=int(start * 1000),
        endTime=int(end * 1000),
        filterPattern=pattern,
    )
    try:
        return [event for page in pages for event in page.get("events", [])]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        logger.info("no log group /aws/lambda/%s yet", function)
        return []


def collect_metrics(
    cloudwatch: Any,
    logs: Any,
    functions: Sequence[str],
    start: float,
    wait: float,
    min_invocations: Mapping[str, int],
) -> tuple[dict[str, FunctionMetrics], bool]:
    """Poll until every function has its minimum invocations, a REPORT line each, and nothing moves; or `wait` s.

    Returns the metrics and whether they settled (False: the wait ran out, e.g. CloudWatch's delay on AWS).
    """
    deadline = time.monotonic() + wait
    previous: dict[str, FunctionMetrics] | None = None
    while True:
        now = time.time()
        current = {fn: read_function_metrics(cloudwatch, logs, fn, start, now) for fn in functions}
        if previous is not None and _settled(previous, current, min_invocations):
            return current, True
        if time.monotonic() >= deadline:
            logger.warning("Lambda metrics still incomplete after %.0f s: reporting what is there", wait)
            return current, False
        previous = current
        time.sleep(POLL_SECONDS)


def _settled(
    previous: Mapping[str, FunctionMetrics], current: Mapping[str, FunctionMetrics], minimum: Mapping[str, int]
) -> bool:
    """Unchanged since the last poll, minimum invocations reached, every invocation's REPORT line in."""
    for fn, now in current.items():
        before = previous[fn]
        invocations = now.invocations or 0
        if invocations < minimum.get(fn, 0) or len(now.reports) < invocations:
            return False
        if (before.invocations, before.errors, len(before.reports)) != (now.invocations, now.errors, len(now.reports)):
            return False
    return True


def _statistics(
    cloudwatch: Any, function: str, metric: str, statistics: str | tuple[str, ...], window: tuple[float, float]
) -> list[dict[str, Any]]:
    """Datapoints of one AWS/Lambda metric of one function over the window, one per minute."""
    response = cloudwatch.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName=metric,
        Dimensions=[{"Name": "FunctionName", "Value": function}],
        StartTime=datetime.fromtimestamp(window[0], UTC),
        EndTime=datetime.fromtimestamp(window[1], UTC),
        Period=PERIOD_SECONDS,
        Statistics=[statistics] if isinstance(statistics, str) else list(statistics),
    )
    return response.get("Datapoints", [])


def _sum(datapoints: list[dict[str, Any]]) -> int | None:
    """The total of Sum datapoints as an integer count; None when there are none."""
    return round(sum(p["Sum"] for p in datapoints)) if datapoints else None

