"""Fidelity, issue 21 item 5: SQS event source mappings as Lambda runs them (pollers, batches, partial failures,
the queue's redrive policy, FIFO order, the sender never waiting). Plain boto3: reruns against AWS."""

import hashlib
import json
import time

import pytest
from botocore.exceptions import ClientError

from tests.emulator.conftest import receive_all
from tests.emulator.fidelity import unique

pytestmark = pytest.mark.integration

# Reports each batch it got to $REPORT_QUEUE_URL; fails the records whose body is "bad" (partially, or the whole
# batch by raising when $RAISE is set); sleeps `seconds` of a JSON body.
BATCH_HANDLER = """
import json, os, time, boto3
_sqs = boto3.client("sqs")

def lambda_handler(event, context):
    records = event["Records"]
    _sqs.send_message(QueueUrl=os.environ["REPORT_QUEUE_URL"], MessageBody=json.dumps(records))
    for record in records:
        if record["body"].startswith("{"):
            time.sleep(json.loads(record["body"]).get("seconds", 0))
    bad = [r["messageId"] for r in records if r["body"] == "bad"]
    if bad and os.environ.get("RAISE"):
        raise ValueError("bad message")
    return {"batchItemFailures": [{"itemIdentifier": i} for i in bad]}
"""


def _queue(cloud, visibility: int, dlq_arn: str | None = None, max_receives: int = 2, fifo: bool = False):
    sqs = cloud.client("sqs")
    attributes = {"VisibilityTimeout": str(visibility)}
    if dlq_arn:
        attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives})
    if fifo:
        attributes["FifoQueue"] = "true"
    url = sqs.create_queue(QueueName=unique("trigger") + (".fifo" if fifo else ""), Attributes=attributes)["QueueUrl"]
    cloud._cleanups.append(lambda: sqs.delete_queue(QueueUrl=url))
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def _mapping(cloud, function_arn: str, queue_arn: str, **settings) -> str:
    lam = cloud.client("lambda")
    uuid = lam.create_event_source_mapping(FunctionName=function_arn, EventSourceArn=queue_arn, **settings)["UUID"]
    cloud._cleanups.append(lambda: lam.delete_event_source_mapping(UUID=uuid))
    return uuid


def _batches(cloud, report_url: str, expected: int, timeout: float | None = None) -> list[list[dict]]:
    messages = receive_all(cloud.client("sqs"), report_url, expected=expected, timeout=timeout or cloud.patience)
    return [json.loads(m["Body"]) for m in messages]


def _counts(cloud, url: str) -> tuple[int, int]:
    attributes = cloud.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
    return (int(attributes["Attributes"]["ApproximateNumberOfMessages"]),
            int(attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"]))


def _function(cloud, report_url: str, raise_on_bad: bool = False, timeout: int = 3) -> str:
    env = {"REPORT_QUEUE_URL": report_url, **({"RAISE": "1"} if raise_on_bad else {})}
    return cloud.function(BATCH_HANDLER, env=env, Timeout=timeout)


def test_a_batch_with_one_reported_failure_returns_only_that_message_then_redrives_it(cloud):
    report_url, _ = cloud.queue()
    dlq_url, dlq_arn = _queue(cloud, visibility=30)
    url, arn = _queue(cloud, visibility=3, dlq_arn=dlq_arn, max_receives=2)
    bodies = ["one", "two", "bad", "four", "five"]
    cloud.client("sqs").send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": b}
                                                                  for i, b in enumerate(bodies)])
    _mapping(cloud, _function(cloud, report_url), arn, BatchSize=5, MaximumBatchingWindowInSeconds=1,
             FunctionResponseTypes=["ReportBatchItemFailures"])
    first = _batches(cloud, report_url, expected=1)[0]
    assert sorted(r["body"] for r in first) == sorted(bodies)
    retried = _batches(cloud, report_url, expected=1)[0]  # after the visibility timeout: the failed one alone
    assert [(r["body"], r["attributes"]["ApproximateReceiveCount"]) for r in retried] == [("bad", "2")]
    dead = receive_all(cloud.client("sqs"), dlq_url, expected=1, timeout=cloud.patience)
    assert [m["Body"] for m in dead] == ["bad"]
    assert _counts(cloud, url) == (0, 0)


def test_a_function_error_returns_the_whole_batch(cloud):
    report_url, _ = cloud.queue()
    dlq_url, dlq_arn = _queue(cloud, visibility=30)
    url, arn = _queue(cloud, visibility=3, dlq_arn=dlq_arn, max_receives=1)
    cloud.client("sqs").send_message_batch(QueueUrl=url, Entries=[{"Id": "1", "MessageBody": "good"},
                                                                  {"Id": "2", "MessageBody": "bad"}])
    _mapping(cloud, _function(cloud, report_url, raise_on_bad=True), arn, BatchSize=10,
             MaximumBatchingWindowInSeconds=1, FunctionResponseTypes=["ReportBatchItemFailures"])
    dead = receive_all(cloud.client("sqs"), dlq_url, expected=2, timeout=cloud.patience)
    assert sorted(m["Body"] for m in dead) == ["bad", "good"]


def test_the_sender_returns_at_once_and_the_record_has_aws_shape(cloud):
    report_url, _ = cloud.queue()
    url, arn = _queue(cloud, visibility=10)
    _mapping(cloud, _function(cloud, report_url), arn, BatchSize=1)
    sqs = cloud.client("sqs")
    body = json.dumps({"seconds": 2})
    sent = sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes={
        "kind": {"DataType": "String", "StringValue": "clip"}})
    # the poller deletes it only after the function's 2 s sleep: had SendMessage waited, the queue would be empty
    assert sum(_counts(cloud, url)) == 1
    [record] = _batches(cloud, report_url, expected=1)[0]
    assert record["messageId"] == sent["MessageId"]
    assert record["md5OfBody"] == hashlib.md5(body.encode()).hexdigest() == sent["MD5OfMessageBody"]
    assert (record["eventSource"], record["eventSourceARN"], record["awsRegion"]) == ("aws:sqs", arn, "us-east-1")
    assert abs(int(record["attributes"]["SentTimestamp"]) / 1000 - time.time()) < 60
    assert record["messageAttributes"]["kind"] == {"stringValue": "clip", "stringListValues": [],
                                                   "binaryListValues": [], "dataType": "String"}


def test_a_fifo_queue_keeps_each_group_in_order(cloud):
    report_url, _ = cloud.queue()
    url, arn = _queue(cloud, visibility=10, fifo=True)
    sqs = cloud.client("sqs")
    for number in range(6):
        sqs.send_message(QueueUrl=url, MessageBody=str(number), MessageGroupId="door",
                         MessageDeduplicationId=f"d{number}")
    _mapping(cloud, _function(cloud, report_url), arn, BatchSize=2)
    records = [r for batch in _batches(cloud, report_url, expected=3) for r in batch]
    assert [r["body"] for r in records] == [str(n) for n in range(6)]
    assert {r["attributes"]["MessageGroupId"] for r in records} == {"door"}
    assert all("SequenceNumber" in r["attributes"] for r in records)


def test_a_disabled_mapping_stops_polling(cloud):
    report_url, _ = cloud.queue()
    url, arn = _queue(cloud, visibility=10)
    uuid = _mapping(cloud, _function(cloud, report_url), arn, BatchSize=1)
    lam = cloud.client("lambda")
    lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    deadline = time.monotonic() + cloud.patience
    while lam.get_event_source_mapping(UUID=uuid)["State"] != "Disabled" and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(5)  # AWS and the emulator both take a moment for a mapping's change to reach its pollers
    cloud.client("sqs").send_message(QueueUrl=url, MessageBody="while disabled")
    assert _batches(cloud, report_url, expected=1, timeout=6) == []
    assert _counts(cloud, url)[0] == 1


def test_a_queue_whose_visibility_timeout_is_shorter_than_the_function_timeout_is_refused(cloud):
    report_url, _ = cloud.queue()
    _, arn = _queue(cloud, visibility=5)
    function = _function(cloud, report_url, timeout=60)
    with pytest.raises(ClientError) as caught:
        cloud.client("lambda").create_event_source_mapping(FunctionName=function, EventSourceArn=arn)
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "less than Function timeout" in caught.value.response["Error"]["Message"]


@pytest.mark.parametrize(("fifo", "settings", "code", "says"), [
    (True, {"BatchSize": 11}, "InvalidParameterValueException", "FIFO"),
    (True, {"BatchSize": 10, "MaximumBatchingWindowInSeconds": 5}, "InvalidParameterValueException",
     "Batching window is not supported for FIFO queues"),
    (False, {"BatchSize": 11}, "InvalidParameterValueException",
     "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"),
    (False, {"BatchSize": 10001, "MaximumBatchingWindowInSeconds": 5}, "ValidationException", "10000"),
])
def test_a_mapping_whose_batching_its_queue_type_forbids_is_refused(cloud, fifo, settings, code, says):
    """moto answered the FIFO and 10,001 cases with a 500 (boto3 retried it) and took the other two."""
    _, arn = _queue(cloud, visibility=30, fifo=fifo)
    with pytest.raises(ClientError) as refused:
        cloud.client("lambda").create_event_source_mapping(FunctionName=cloud.function("def lambda_handler(e, c):\n"
                                                                                        "    return None\n"),
                                                           EventSourceArn=arn, **settings)
    assert refused.value.response["Error"]["Code"] == code and says in str(refused.value)
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_large_batch_with_a_window_is_taken_and_an_update_past_fifo_s_limit_is_refused(cloud):
    function = cloud.function("def lambda_handler(e, c):\n    return None\n")
    _, standard = _queue(cloud, visibility=30)
    _mapping(cloud, function, standard, BatchSize=100, MaximumBatchingWindowInSeconds=1, Enabled=False)
    _, fifo = _queue(cloud, visibility=30, fifo=True)
    uuid = _mapping(cloud, function, fifo, BatchSize=10, Enabled=False)
    lam = cloud.client("lambda")
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.update_event_source_mapping(UUID=uuid, BatchSize=11)
    assert lam.get_event_source_mapping(UUID=uuid)["BatchSize"] == 10
