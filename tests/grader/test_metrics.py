"""Lambda metrics come from CloudWatch statistics and the functions' REPORT lines, through the AWS APIs."""

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from grader.metrics import collect_metrics, parse_init_report, parse_report_line
from grader.plots import concurrency_steps

AWS_LINE = (
    "REPORT RequestId: 3604209a-e9a3-11e6-939a-754dd98c7be3\tDuration: 12.34 ms\tBilled Duration: 13 ms \t"
    "Memory Size: 128 MB\tMax Memory Used: 18 MB\tInit Duration: 120.15 ms\t\n"
)


def test_aws_report_lines_parse_with_and_without_init_duration() -> None:
    cold = parse_report_line(AWS_LINE, 100.0)
    warm = parse_report_line("REPORT RequestId: r2\tDuration: 5.00 ms\tBilled Duration: 5 ms", 200.0)

    assert cold is not None and warm is not None
    assert (cold.request_id, cold.duration_ms, cold.init_duration_ms, cold.max_memory_mb) == (
        "3604209a-e9a3-11e6-939a-754dd98c7be3",
        12.34,
        120.15,
        18.0,
    )
    assert abs(cold.started_at - (100.0 - 0.13249)) < 1e-9
    assert (warm.init_duration_ms, warm.max_memory_mb) == (None, None)
    assert parse_report_line("START RequestId: r2 Version: $LATEST", 1.0) is None
    assert parse_report_line("my handler said REPORT RequestId: x", 1.0) is None


def test_snapstart_lines_parse_init_once_and_restore_per_environment() -> None:
    restored = parse_report_line("REPORT RequestId: r\tDuration: 5.00 ms\tRestore Duration: 30.50 ms\t"
                                 "Billed Restore Duration: 2 ms", 10.0)

    assert restored is not None and (restored.init_duration_ms, restored.restore_duration_ms) == (None, 30.5)
    assert abs(restored.started_at - (10.0 - 0.0355)) < 1e-9
    assert parse_init_report("INIT_REPORT Init Duration: 1234.56 ms\tPhase: init\tStatus: success") == 1234.56
    assert parse_init_report("REPORT RequestId: r\tDuration: 5.00 ms") is None


def test_concurrency_is_rebuilt_from_invocation_spans() -> None:
    lines = [
        parse_report_line(f"REPORT RequestId: {i}\tDuration: 1000.00 ms", end) for i, end in enumerate([2, 2.5, 4])
    ]

    times, counts = concurrency_steps([line for line in lines if line])

    assert counts == [0, 1, 2, 1, 0, 1, 0] and times[0] == 1.0


def _publish(client: Callable[[str], Any], function: str) -> None:
    """What a Lambda service publishes for 3 invocations (one failed, one cold)."""
    now = datetime.now(UTC)
    data = [
        ("Invocations", 1, "Count"),
        ("Errors", 0, "Count"),
        ("Duration", 100, "Milliseconds"),
        ("Invocations", 1, "Count"),
        ("Errors", 1, "Count"),
        ("Duration", 300, "Milliseconds"),
        ("Invocations", 1, "Count"),
        ("Errors", 0, "Count"),
        ("Duration", 200, "Milliseconds"),
        ("ConcurrentExecutions", 1, "Count"),
        ("ConcurrentExecutions", 2, "Count"),
    ]
    dimensions = [{"Name": "FunctionName", "Value": function}]
    client("cloudwatch").put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {"MetricName": n, "Value": v, "Unit": u, "Timestamp": now, "Dimensions": dimensions} for n, v, u in data
        ],
    )
    logs, group = client("logs"), f"/aws/lambda/{function}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    ms = int(time.time() * 1000)
    lines = [
        AWS_LINE,
        "START RequestId: b",
        "REPORT RequestId: b\tDuration: 300.00 ms",
        "handler output",
        "INIT_REPORT Init Duration: 900.00 ms\tPhase: init\tStatus: success",
        "REPORT RequestId: c\tDuration: 200.00 ms\tRestore Duration: 45.00 ms\tBilled Restore Duration: 3 ms",
    ]
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[{"timestamp": ms + i, "message": m} for i, m in enumerate(lines)],
    )


def test_statistics_and_report_lines_are_read_for_each_function(client: Callable[[str], Any]) -> None:
    function, idle = f"fn-{uuid.uuid4().hex[:8]}", f"idle-{uuid.uuid4().hex[:8]}"
    started = time.time() - 1
    _publish(client, function)

    metrics, settled = collect_metrics(
        client("cloudwatch"), client("logs"), [function, idle], started, 5, {function: 3}
    )

    m = metrics[function]
    assert settled
    assert (m.invocations, m.errors, m.throttles, m.concurrency_max) == (3, 1, None, 2)
    assert (m.duration_avg_ms, m.duration_max_ms) == (200.0, 300.0)
    assert (len(m.reports), m.cold_starts, m.init_durations) == (3, 2, [120.15, 900.0])
    assert m.restore_durations == [45.0]
    assert (metrics[idle].invocations, metrics[idle].reports) == (None, ())


def test_the_wait_ends_unsettled_when_invocations_never_arrive(client: Callable[[str], Any]) -> None:
    function = f"fn-{uuid.uuid4().hex[:8]}"
    started = time.monotonic()

    metrics, settled = collect_metrics(
        client("cloudwatch"), client("logs"), [function], time.time(), 1.5, {function: 1}
    )

    assert not settled and metrics[function].invocations is None
    assert time.monotonic() - started >= 1.5  # the whole wait was given
