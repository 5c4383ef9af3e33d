"""S3 events and InvocationType=Event: delivery, at-least-once, retries, DLQ, throttling, metrics."""

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from tests.emulator.conftest import log_messages, receive_all
from tests.emulator.functions import create_function

pytestmark = pytest.mark.integration


def _bucket_notifying(emulator, lam, function_name, prefix="videos/", suffix=".mp4"):
    s3 = emulator.client("s3")
    bucket = f"test-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    arn = lam.get_function(FunctionName=function_name)["Configuration"]["FunctionArn"]
    lam.add_permission(FunctionName=arn, StatementId=f"s3-{bucket}", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{bucket}")
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "LambdaFunctionConfigurations": [{
            "LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix},
                                               {"Name": "suffix", "Value": suffix}]}}}]})
    return s3, bucket


def test_an_s3_put_runs_the_function_with_the_s3_event(emulator, lam, sqs, report_queue):
    name = create_function(lam, "report", env={"REPORT_QUEUE_URL": report_queue})
    s3, bucket = _bucket_notifying(emulator, lam, name)
    s3.put_object(Bucket=bucket, Key="videos/dev1/x.mp4", Body=b"clip")
    s3.put_object(Bucket=bucket, Key="frames/dev1/ignored.png", Body=b"not for this function")
    [message] = receive_all(sqs, report_queue, expected=1)
    record = json.loads(message["Body"])["Records"][0]
    assert record["eventSource"] == "aws:s3"
    assert record["s3"]["bucket"]["name"] == bucket
    assert record["s3"]["object"]["key"] in ("videos/dev1/x.mp4", "videos%2Fdev1%2Fx.mp4")
    assert receive_all(sqs, report_queue, expected=1, timeout=1.5) == []


def test_the_same_object_put_twice_is_delivered_twice(emulator, lam, sqs, report_queue):
    name = create_function(lam, "report", env={"REPORT_QUEUE_URL": report_queue})
    s3, bucket = _bucket_notifying(emulator, lam, name)
    for _ in range(2):
        s3.put_object(Bucket=bucket, Key="videos/dev1/same.mp4", Body=b"clip")
    assert len(receive_all(sqs, report_queue, expected=2)) == 2


def test_a_failing_async_event_is_retried_twice_then_lands_in_the_dlq(emulator, lam, sqs, report_queue,
                                                                     dead_letter_queue):
    dlq_url, dlq_arn = dead_letter_queue
    name = create_function(lam, "fail", env={"REPORT_QUEUE_URL": report_queue}, dlq_arn=dlq_arn)
    s3, bucket = _bucket_notifying(emulator, lam, name)
    s3.put_object(Bucket=bucket, Key="videos/dev1/bad.mp4", Body=b"clip")
    attempts = receive_all(sqs, report_queue, expected=3, timeout=10)
    assert len(attempts) == 3
    [dead] = receive_all(sqs, dlq_url, expected=1, MessageAttributeNames=["All"])
    attributes = dead["MessageAttributes"]
    assert attributes["ErrorCode"] == {"DataType": "Number", "StringValue": "200"}  # AWS: the HTTP status
    assert attributes["ErrorMessage"]["StringValue"] == "boom"
    assert attributes["ApproximateInvokeCount"]["StringValue"] == "3"
    assert json.loads(dead["Body"])["Records"][0]["s3"]["bucket"]["name"] == bucket
    assert receive_all(sqs, report_queue, expected=1, timeout=1.5) == []


def test_invocation_type_event_is_accepted_at_once_and_runs_later(lam, sqs, report_queue):
    name = create_function(lam, "report", env={"REPORT_QUEUE_URL": report_queue})
    response = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"n": 1}))
    assert response["StatusCode"] == 202
    [message] = receive_all(sqs, report_queue, expected=1)
    assert json.loads(message["Body"]) == {"n": 1}


def test_reserved_concurrency_throttles_sync_calls_beyond_it(emulator, lam):
    name = create_function(lam, "sleep")
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)

    def call(_):
        try:
            lam.invoke(FunctionName=name, Payload=json.dumps({"seconds": 1.5}))
            return "ran"
        except lam.exceptions.TooManyRequestsException:
            return "throttled"

    with ThreadPoolExecutor(3) as pool:
        outcomes = sorted(pool.map(call, range(3)))
    assert outcomes.count("ran") >= 1
    assert "throttled" in outcomes
    assert _metric_sum(emulator, name, "Throttles") >= 1


def test_async_events_beyond_the_limit_wait_instead_of_being_lost(emulator, lam, sqs, report_queue):
    name = create_function(lam, "report", env={"REPORT_QUEUE_URL": report_queue})
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    for n in range(6):
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"n": n}))
    bodies = sorted(json.loads(m["Body"])["n"] for m in receive_all(sqs, report_queue, expected=6, timeout=20))
    assert bodies == list(range(6))


def test_invocations_errors_duration_and_concurrency_reach_cloudwatch(emulator, lam):
    name = create_function(lam, "raise")
    for _ in range(2):
        lam.invoke(FunctionName=name, Payload=b"{}")
    log_messages(emulator, name, until="REPORT RequestId")
    deadline = time.monotonic() + 20  # each metric ships in its own round, and the emulator may be busy
    while time.monotonic() < deadline and not (_metric_sum(emulator, name, "Invocations") >= 2
                                               and _metric_sum(emulator, name, "Errors") >= 2
                                               and _metric_stat(emulator, name, "Duration", "Average") > 0):
        time.sleep(0.2)
    assert _metric_sum(emulator, name, "Invocations") == 2
    assert _metric_sum(emulator, name, "Errors") == 2
    assert _metric_stat(emulator, name, "Duration", "Average") > 0
    assert _metric_stat(emulator, name, "ConcurrentExecutions", "Maximum") >= 1


def _metric_stat(emulator, function_name, metric, statistic):
    now = datetime.now(UTC)
    points = emulator.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Lambda", MetricName=metric, Dimensions=[{"Name": "FunctionName", "Value": function_name}],
        StartTime=now - timedelta(minutes=10), EndTime=now + timedelta(minutes=1), Period=3600,
        Statistics=[statistic])["Datapoints"]
    return sum(p[statistic] for p in points)


def _metric_sum(emulator, function_name, metric):
    return _metric_stat(emulator, function_name, metric, "Sum")
