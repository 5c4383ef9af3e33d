"""A function's log lines reach CloudWatch Logs however they were queued and whoever else writes the group: a batch
that fails is tried again, and one that keeps failing is logged with its lines, never dropped silently (seen under
load: `logs --follow` printed an invocation's END and REPORT but not its START)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from emulator.config import DEFAULT_REGION
from emulator.lambda_runtime.logs import LogRecord, LogShipper
from emulator.lambda_runtime.metrics import MetricsPublisher

GROUP, STREAM = "/aws/lambda/fn", "2026/12/04/[$LATEST]abc"
PATIENCE_SECONDS = 1.0


@pytest.fixture
def logs() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("logs", region_name=DEFAULT_REGION, aws_access_key_id="x", aws_secret_access_key="y")


def _shipped(client: Any, *records: LogRecord) -> list[str]:
    """The messages of the stream once `records` were put on a shipper in this order and it has flushed."""
    shipper = LogShipper(lambda account: client, patience_seconds=PATIENCE_SECONDS)
    try:
        for record in records:
            shipper.put(record)
        shipper.flush(timeout=PATIENCE_SECONDS * 5)
    finally:
        shipper.close()
    return _messages(client)


def _messages(client: Any) -> list[str]:
    try:
        return [e["message"] for e in client.get_log_events(logGroupName=GROUP, logStreamName=STREAM)["events"]]
    except client.exceptions.ResourceNotFoundException:
        return []


def _record(stamp_ms: int, message: str) -> LogRecord:
    return ("", GROUP, STREAM, stamp_ms, message)


def test_lines_queued_in_another_order_than_stamped_are_shipped_in_time_order(logs: Any) -> None:
    """The pool stamps START, an environment's reader thread stamps a line a moment later and queues it first."""
    now = int(time.time() * 1000)
    shipped = _shipped(logs, _record(now + 5, "a late INIT line"), _record(now, "START RequestId: r1"),
                       _record(now + 9, "END RequestId: r1"))
    assert shipped == ["START RequestId: r1", "a late INIT line", "END RequestId: r1"]


class GroupMadeMeanwhile:
    """The logs client, except that the group appears (an IAM finding's writer) right after the shipper looked."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def describe_log_groups(self, **kwargs: Any) -> Any:
        answer = self._client.describe_log_groups(**kwargs)
        self._client.create_log_group(logGroupName=GROUP)
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_a_group_another_writer_made_meanwhile_loses_no_line(logs: Any) -> None:
    now = int(time.time() * 1000)
    assert _shipped(GroupMadeMeanwhile(logs), _record(now, "START RequestId: r1")) == ["START RequestId: r1"]


class FailingPuts:
    """The logs client, except that its first `failures` PutLogEvents calls fail (a shipper tries every 0.25 s)."""

    def __init__(self, client: Any, failures: int) -> None:
        self._client, self.failures = client, failures

    def put_log_events(self, **kwargs: Any) -> Any:
        if self.failures:
            self.failures -= 1
            raise ClientError({"Error": {"Code": "ServiceUnavailableException", "Message": "busy"}}, "PutLogEvents")
        return self._client.put_log_events(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_a_batch_that_failed_is_shipped_on_a_later_attempt(logs: Any) -> None:
    now = int(time.time() * 1000)
    assert _shipped(FailingPuts(logs, 2), _record(now, "START RequestId: r1")) == [
        "START RequestId: r1"]


def test_a_batch_that_keeps_failing_is_logged_with_its_lines(logs: Any, caplog: pytest.LogCaptureFixture) -> None:
    now = int(time.time() * 1000)
    with caplog.at_level(logging.WARNING, logger="emulator.lambda_runtime.shipper"):
        assert _shipped(FailingPuts(logs, 1_000), _record(now, "START RequestId: r1")) == []
    [dropped] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "dropped 1 records" in dropped.getMessage() and "START RequestId: r1" in dropped.getMessage()


class _CountingMetrics:
    """A CloudWatch client per account that records each PutMetricData's data; `failing` fails its first call."""

    def __init__(self, failing: str) -> None:
        self.failing = failing
        self.put: dict[str, list[str]] = {}

    def __call__(self, account: str) -> Any:
        return self if account == self.failing else _Recorder(self.put.setdefault(account, []))

    def put_metric_data(self, **kwargs: Any) -> None:
        self.failing = ""
        raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "busy"}}, "PutMetricData")


class _Recorder:
    def __init__(self, names: list[str]) -> None:
        self._names = names

    def put_metric_data(self, Namespace: str, MetricData: list[dict[str, Any]]) -> None:
        self._names.extend(datum["MetricName"] for datum in MetricData)


def test_metrics_of_one_account_that_failed_are_sent_again_and_no_other_twice() -> None:
    clients = _CountingMetrics(failing="222222222222")
    publisher = MetricsPublisher(clients)
    try:
        for account in ("111111111111", "222222222222"):
            publisher.invocation(f"arn:aws:lambda:us-east-1:{account}:function:fn", 12.0, failed=False)
        publisher.flush(timeout=5)
        deadline = time.monotonic() + 5
        while len(clients.put) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        publisher.close()
    assert clients.put == {"111111111111": ["Invocations", "Errors", "Duration"],
                           "222222222222": ["Invocations", "Errors", "Duration"]}
