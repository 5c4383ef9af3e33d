"""Fidelity, issues 21 and 26: DynamoDB Streams and Kinesis event source mappings as Lambda runs them (pollers,
order per shard, batches, partial failures, bisecting, on-failure records, starting positions, the writer never
waiting). Plain boto3: reruns against AWS."""

import base64
import json
import time

import pytest
from botocore.exceptions import ClientError

from tests.emulator.conftest import receive_all
from tests.emulator.fidelity import unique

pytestmark = pytest.mark.integration

# Sleeps $SLEEP seconds, then reports each batch it got to $REPORT_QUEUE_URL; fails the records that are "bad" (a
# DynamoDB item with a `bad` attribute, Kinesis data b"bad"): by naming them, or the whole batch when $RAISE is set.
STREAM_HANDLER = """
import base64, json, os, time, boto3
_sqs = boto3.client("sqs")

def _bad(record):
    if "kinesis" in record:
        return base64.b64decode(record["kinesis"]["data"]) == b"bad"
    return "bad" in (record["dynamodb"].get("NewImage") or {})

def _sequence(record):
    return record["kinesis"]["sequenceNumber"] if "kinesis" in record else record["dynamodb"]["SequenceNumber"]

def lambda_handler(event, context):
    time.sleep(float(os.environ.get("SLEEP", "0")))
    records = event["Records"]
    _sqs.send_message(QueueUrl=os.environ["REPORT_QUEUE_URL"], MessageBody=json.dumps(records))
    bad = [_sequence(r) for r in records if _bad(r)]
    if bad and os.environ.get("RAISE"):
        raise ValueError("bad record")
    return {"batchItemFailures": [{"itemIdentifier": s} for s in bad]}
"""


@pytest.fixture(scope="module")
def mapped(cloud):
    """A function and a table's stream the refusal tests try to map: (function ARN, stream ARN)."""
    return cloud.function(STREAM_HANDLER), _table(cloud)[1]


def _table(cloud, view: str = "NEW_AND_OLD_IMAGES") -> tuple[str, str]:
    """A new table with a stream: (name, stream ARN)."""
    ddb = cloud.client("dynamodb")
    name = unique("stream")
    table = ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                             AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                             BillingMode="PAY_PER_REQUEST",
                             StreamSpecification={"StreamEnabled": True, "StreamViewType": view})
    cloud._cleanups.append(lambda: ddb.delete_table(TableName=name))
    ddb.get_waiter("table_exists").wait(TableName=name)
    return name, table["TableDescription"]["LatestStreamArn"]


def _kinesis_stream(cloud) -> str:
    kinesis = cloud.client("kinesis")
    name = unique("stream")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    cloud._cleanups.append(lambda: kinesis.delete_stream(StreamName=name))
    kinesis.get_waiter("stream_exists").wait(StreamName=name)
    return kinesis.describe_stream(StreamName=name)["StreamDescription"]["StreamARN"]


def _function(cloud, report_url: str, **env: str) -> str:
    return cloud.function(STREAM_HANDLER, env={"REPORT_QUEUE_URL": report_url, **env})


def _mapping(cloud, function_arn: str, source_arn: str, wait: bool = True, **settings) -> dict:
    lam = cloud.client("lambda")
    mapping = lam.create_event_source_mapping(FunctionName=function_arn, EventSourceArn=source_arn, **settings)
    cloud._cleanups.append(lambda: lam.delete_event_source_mapping(UUID=mapping["UUID"]))
    deadline = time.monotonic() + cloud.patience
    while wait and lam.get_event_source_mapping(UUID=mapping["UUID"])["State"] != "Enabled":
        assert time.monotonic() < deadline, "the mapping never became Enabled"
        time.sleep(0.2)
    return mapping


def _records(cloud, report_url: str, expected: int) -> list[list[dict]]:
    """The batches the function reported, until `expected` records came (or patience ran out)."""
    sqs, batches = cloud.client("sqs"), []
    deadline = time.monotonic() + cloud.patience
    while sum(len(b) for b in batches) < expected and time.monotonic() < deadline:
        batches += [json.loads(m["Body"]) for m in receive_all(sqs, report_url, expected=1, timeout=1)]
    return batches


def _put(cloud, table: str, item_id: str, **attributes: str) -> None:
    item = {"id": {"S": item_id}, **{k: {"S": v} for k, v in attributes.items()}}
    cloud.client("dynamodb").put_item(TableName=table, Item=item)


def test_writes_reach_the_function_in_order_with_their_images(cloud):
    report_url, _ = cloud.queue()
    table, stream = _table(cloud)
    mapping = _mapping(cloud, _function(cloud, report_url), stream, StartingPosition="TRIM_HORIZON", BatchSize=10)
    ddb = cloud.client("dynamodb")
    _put(cloud, table, "a", colour="red")
    ddb.update_item(TableName=table, Key={"id": {"S": "a"}}, UpdateExpression="SET colour = :c",
                    ExpressionAttributeValues={":c": {"S": "blue"}})
    ddb.delete_item(TableName=table, Key={"id": {"S": "a"}})
    records = [r for batch in _records(cloud, report_url, expected=3) for r in batch]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    insert, modify, remove = (r["dynamodb"] for r in records)
    assert insert["NewImage"] == {"id": {"S": "a"}, "colour": {"S": "red"}} and "OldImage" not in insert
    assert modify["OldImage"]["colour"] == {"S": "red"} and modify["NewImage"]["colour"] == {"S": "blue"}
    assert remove["OldImage"]["colour"] == {"S": "blue"} and "NewImage" not in remove
    assert all(d["Keys"] == {"id": {"S": "a"}} and d["StreamViewType"] == "NEW_AND_OLD_IMAGES" for d in
               (insert, modify, remove))
    sequences = [int(d["SequenceNumber"]) for d in (insert, modify, remove)]
    assert sequences == sorted(set(sequences))
    assert insert["SizeBytes"] == 2 * len("id" + "a") + len("colour" + "red")  # Keys + NewImage, as DynamoDB counts
    assert isinstance(insert["ApproximateCreationDateTime"], int | float)
    assert abs(insert["ApproximateCreationDateTime"] - time.time()) < 300
    assert {(r["eventSource"], r["eventSourceARN"], r["awsRegion"], r["eventVersion"]) for r in records} == {
        ("aws:dynamodb", stream, stream.split(":")[3], "1.1")}
    assert mapping["State"] == "Creating" and mapping["MaximumRetryAttempts"] == -1


def test_a_keys_only_stream_carries_no_images(cloud):
    report_url, _ = cloud.queue()
    table, stream = _table(cloud, view="KEYS_ONLY")
    _mapping(cloud, _function(cloud, report_url), stream, StartingPosition="TRIM_HORIZON")
    _put(cloud, table, "k", colour="green")
    [[record]] = _records(cloud, report_url, expected=1)
    assert record["dynamodb"]["Keys"] == {"id": {"S": "k"}}
    assert "NewImage" not in record["dynamodb"] and "OldImage" not in record["dynamodb"]


def test_put_item_returns_before_the_function_runs(cloud):
    report_url, _ = cloud.queue()
    table, stream = _table(cloud)
    _mapping(cloud, _function(cloud, report_url, SLEEP="2"), stream, StartingPosition="TRIM_HORIZON")
    _put(cloud, table, "fast")
    # the function reports only after its 2 s sleep: had PutItem waited for it, the report would be there now
    early = cloud.client("sqs").receive_message(QueueUrl=report_url, WaitTimeSeconds=0).get("Messages", [])
    assert early == []
    [[record]] = _records(cloud, report_url, expected=1)
    assert record["dynamodb"]["Keys"] == {"id": {"S": "fast"}}


def test_a_reported_item_failure_is_retried_from_that_record_then_sent_to_the_on_failure_queue(cloud):
    report_url, _ = cloud.queue()
    failures_url, failures_arn = cloud.queue()
    table, stream = _table(cloud)
    for item_id, extra in (("1", {}), ("2", {"bad": "yes"}), ("3", {})):
        _put(cloud, table, item_id, **extra)
    _mapping(cloud, _function(cloud, report_url), stream, StartingPosition="TRIM_HORIZON", BatchSize=10,
             FunctionResponseTypes=["ReportBatchItemFailures"], MaximumRetryAttempts=1,
             DestinationConfig={"OnFailure": {"Destination": failures_arn}})
    batches = _records(cloud, report_url, expected=5)
    ids = [[r["dynamodb"]["Keys"]["id"]["S"] for r in batch] for batch in batches]
    assert ids == [["1", "2", "3"], ["2", "3"]]  # the retry starts at the failed record; "1" is checkpointed
    [message] = receive_all(cloud.client("sqs"), failures_url, expected=1, timeout=cloud.patience)
    failure = json.loads(message["Body"])
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 2
    info = failure["DDBStreamBatchInfo"]
    assert info["streamArn"] == stream and info["batchSize"] == 2
    assert info["startSequenceNumber"] == batches[1][0]["dynamodb"]["SequenceNumber"]
    assert info["endSequenceNumber"] == batches[1][1]["dynamodb"]["SequenceNumber"]


def test_a_failing_batch_is_bisected_down_to_the_bad_record(cloud):
    report_url, _ = cloud.queue()
    failures_url, failures_arn = cloud.queue()
    table, stream = _table(cloud)
    for item_id, extra in (("1", {}), ("2", {}), ("3", {"bad": "yes"}), ("4", {})):
        _put(cloud, table, item_id, **extra)
    _mapping(cloud, _function(cloud, report_url, RAISE="1"), stream, StartingPosition="TRIM_HORIZON",
             BisectBatchOnFunctionError=True, MaximumRetryAttempts=0,
             DestinationConfig={"OnFailure": {"Destination": failures_arn}})
    batches = _records(cloud, report_url, expected=10)
    ids = [[r["dynamodb"]["Keys"]["id"]["S"] for r in batch] for batch in batches]
    assert ids == [["1", "2", "3", "4"], ["1", "2"], ["3", "4"], ["3"], ["4"]]
    [message] = receive_all(cloud.client("sqs"), failures_url, expected=1, timeout=cloud.patience)
    info = json.loads(message["Body"])["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1 and info["startSequenceNumber"] == batches[3][0]["dynamodb"]["SequenceNumber"]


def test_latest_skips_what_was_written_before_the_mapping(cloud):
    report_url, _ = cloud.queue()
    table, stream = _table(cloud)
    _put(cloud, table, "before")
    _mapping(cloud, _function(cloud, report_url), stream, StartingPosition="LATEST")
    _put(cloud, table, "after")
    batches = _records(cloud, report_url, expected=1)
    assert [r["dynamodb"]["Keys"]["id"]["S"] for batch in batches for r in batch] == ["after"]


def test_kinesis_records_come_in_batches_of_the_batch_size(cloud):
    report_url, _ = cloud.queue()
    stream = _kinesis_stream(cloud)
    entries = [{"Data": f"record-{i}".encode(), "PartitionKey": "key"} for i in range(5)]
    put = cloud.client("kinesis").put_records(StreamARN=stream, Records=entries)["Records"]
    function_arn = _function(cloud, report_url)
    _mapping(cloud, function_arn, stream, StartingPosition="TRIM_HORIZON", BatchSize=2)
    batches = _records(cloud, report_url, expected=5)
    assert [len(batch) for batch in batches] == [2, 2, 1]
    records = [r for batch in batches for r in batch]
    assert [base64.b64decode(r["kinesis"]["data"]) for r in records] == [e["Data"] for e in entries]
    assert [r["kinesis"]["sequenceNumber"] for r in records] == [p["SequenceNumber"] for p in put]
    assert [r["eventID"] for r in records] == [f"{p['ShardId']}:{p['SequenceNumber']}" for p in put]
    role = cloud.client("lambda").get_function_configuration(FunctionName=function_arn)["Role"]
    assert {(r["eventSource"], r["eventName"], r["eventSourceARN"], r["invokeIdentityArn"],
             r["kinesis"]["partitionKey"], r["kinesis"]["kinesisSchemaVersion"]) for r in records} == {
        ("aws:kinesis", "aws:kinesis:record", stream, role, "key", "1.0")}
    assert all(abs(r["kinesis"]["approximateArrivalTimestamp"] - time.time()) < 300 for r in records)


def test_a_disabled_mapping_delivers_nothing_until_enabled(cloud):
    report_url, _ = cloud.queue()
    table, stream = _table(cloud)
    mapping = _mapping(cloud, _function(cloud, report_url), stream, wait=False, StartingPosition="TRIM_HORIZON",
                       Enabled=False)
    _put(cloud, table, "waiting")
    time.sleep(3)  # several polling rounds: a disabled mapping's poller would have run by now
    assert receive_all(cloud.client("sqs"), report_url, expected=1, timeout=1) == []
    lam = cloud.client("lambda")
    assert lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)["State"] == "Enabling"
    [[record]] = _records(cloud, report_url, expected=1)
    assert record["dynamodb"]["Keys"] == {"id": {"S": "waiting"}}


@pytest.mark.parametrize(("settings", "code"), [
    ({}, "InvalidParameterValueException"),  # no StartingPosition
    ({"StartingPosition": "AT_TIMESTAMP", "StartingPositionTimestamp": 0}, "InvalidParameterValueException"),
    ({"StartingPosition": "TRIM_HORIZON", "BatchSize": 10_001}, "ValidationException"),
    ({"StartingPosition": "TRIM_HORIZON", "MaximumRetryAttempts": 10_001}, "ValidationException"),
    ({"StartingPosition": "TRIM_HORIZON", "MaximumRecordAgeInSeconds": 604_801}, "ValidationException"),
])
def test_a_dynamodb_mapping_aws_refuses_is_refused(cloud, mapped, settings, code):
    function_arn, stream = mapped
    with pytest.raises(ClientError) as refused:
        cloud.client("lambda").create_event_source_mapping(FunctionName=function_arn, EventSourceArn=stream,
                                                           **settings)
    assert refused.value.response["Error"]["Code"] == code


def test_a_table_without_a_stream_cannot_be_mapped(cloud, mapped):
    ddb = cloud.client("dynamodb")
    name = unique("nostream")
    table_arn = ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                                 AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                                 BillingMode="PAY_PER_REQUEST")["TableDescription"]["TableArn"]
    cloud._cleanups.append(lambda: ddb.delete_table(TableName=name))
    with pytest.raises(ClientError) as refused:
        cloud.client("lambda").create_event_source_mapping(
            FunctionName=mapped[0], EventSourceArn=f"{table_arn}/stream/2024-01-01T00:00:00.000",
            StartingPosition="LATEST")
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
