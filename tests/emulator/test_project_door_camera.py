"""A course-style project nobody on the team wrote (issue 26, item 8): the door camera of
tests/emulator/projects/door_camera, deployed with plain boto3 and run end to end. Snapshots uploaded to S3 reach
SNS, whose Lambda records each visit in DynamoDB; the table's stream counts them; a FIFO queue rings each door's
chime in order, one blurry snapshot failing once; a rate(1 minute) schedule starts the report state machine; a REST
API and a function URL on the alias `live` (version 1) list the visitors; no function was refused anything.
Against the session's emulator, or FIDELITY_ENDPOINT_URL (LocalStack, `aws`) like the fidelity suite."""

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from tests.emulator.conftest import log_messages
from tests.emulator.fidelity import REGION, advance_clock, http_call, unique
from tests.emulator.projects.door_camera.deploy import ALIAS, FUNCTIONS, deploy, teardown, unmute_chime

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SNAPSHOTS = {
    "front": ["snapshots/front/2026-12-04T08-00-00.jpg", "snapshots/front/2026-12-04T08-01-00-blurry.jpg",
              "snapshots/front/2026-12-04T08-02-00.jpg", "snapshots/front/2026-12-04T08-03-00.jpg"],
    "back": ["snapshots/back/2026-12-04T09-00-00.jpg", "snapshots/back/2026-12-04T09-30-00.jpg"],
}
EXPECTED_COUNTS = {door: len(keys) for door, keys in SNAPSHOTS.items()}
EXPECTED_REPORT = {"level": "busy", "total": 6, "busiest": "front"}  # 6 visits: at least 5 is a busy day


@pytest.fixture(scope="module")
def door_camera(cloud):
    """The deployed project's outputs; everything it made is deleted afterwards."""
    session_kwargs = {"endpoint_url": cloud.endpoint_url, "region_name": REGION, **cloud.credentials}
    outputs = deploy(session_kwargs, prefix=unique("door"))
    yield {**outputs, "session_kwargs": session_kwargs}
    teardown(session_kwargs, outputs)


@pytest.fixture(scope="module")
def uploaded(cloud, door_camera):
    """Every snapshot uploaded, one after another, each once its visit is recorded (so rung: the rings queue up in
    upload order); then the muted chime is switched on and finds them all waiting."""
    s3 = cloud.client("s3")
    for door, keys in SNAPSHOTS.items():
        for count, key in enumerate(keys, start=1):
            s3.put_object(Bucket=door_camera["names"]["bucket"], Key=key, Body=b"\xff\xd8 a jpeg of someone",
                          ContentType="image/jpeg")
            _eventually(cloud, lambda door=door: _visits(cloud, door_camera, door),
                        lambda found, count=count: len(found) >= count, f"the visit of {key}")
    unmute_chime(door_camera["session_kwargs"], door_camera)
    return SNAPSHOTS


def _eventually(cloud, probe: Callable[[], Any], done: Callable[[Any], bool], what: str) -> Any:
    """probe()'s value once done(value), polling; fails naming `what` when the deadline passes."""
    deadline = time.monotonic() + cloud.patience * 3
    while not done(value := probe()):
        assert time.monotonic() < deadline, f"{what}: still {value!r}"
        time.sleep(0.3)
    return value


def _visits(cloud, door_camera, door: str) -> list[dict[str, Any]]:
    items = cloud.client("dynamodb").query(
        TableName=door_camera["names"]["visits_table"], KeyConditionExpression="door = :door",
        ExpressionAttributeValues={":door": {"S": door}}, ConsistentRead=True)["Items"]
    return [_plain(item) for item in items]


def _counter(cloud, door_camera, door: str) -> dict[str, Any]:
    item = cloud.client("dynamodb").get_item(TableName=door_camera["names"]["counters_table"],
                                             Key={"door": {"S": door}}, ConsistentRead=True).get("Item")
    return _plain(item or {})


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    deserializer = TypeDeserializer()
    return {name: deserializer.deserialize(value) for name, value in item.items()}


def test_each_snapshot_lands_in_the_visits_table_through_sns(cloud, door_camera, uploaded):
    for door, keys in uploaded.items():
        visits = _eventually(cloud, lambda door=door: _visits(cloud, door_camera, door),
                             lambda found, keys=keys: len(found) >= len(keys), f"the visits of {door}")
        assert [v["snapshot"] for v in visits] == keys  # the range key sorts them by capture time
        assert all(v["seen_at"].endswith("Z") for v in visits)  # the SNS record's Timestamp


def test_the_tables_stream_updates_each_doors_counter(cloud, door_camera, uploaded):
    for door, expected in EXPECTED_COUNTS.items():
        counter = _eventually(cloud, lambda door=door: _counter(cloud, door_camera, door),
                              lambda found, expected=expected: found.get("visits", 0) >= expected,
                              f"the counter of {door}")
        assert counter["visits"] == expected


def _chimes(cloud, door_camera, door: str) -> list[dict[str, Any]]:
    """The door's chime log, once every snapshot of the door has been rung."""
    return _eventually(cloud, lambda: _counter(cloud, door_camera, door).get("chimes", []),
                       lambda found: len(found) >= len(SNAPSHOTS[door]), f"the chimes of {door}")


def test_the_fifo_chime_rings_each_snapshot_once_and_redelivers_the_failed_one(cloud, door_camera, uploaded):
    [mapping] = cloud.client("lambda").list_event_source_mappings(
        FunctionName=door_camera["names"]["fn:chime"])["EventSourceMappings"]
    assert mapping["BatchSize"] > 1 and mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    chimes = {door: _chimes(cloud, door_camera, door) for door in uploaded}
    for door, keys in uploaded.items():
        assert sorted(c["snapshot"] for c in chimes[door]) == sorted(keys)  # each rung once
    front = {c["snapshot"]: c for c in chimes["front"]}
    assert front["snapshots/front/2026-12-04T08-00-00.jpg"]["receives"] == 1  # before the failure: rung at once
    assert front["snapshots/front/2026-12-04T08-01-00-blurry.jpg"]["receives"] == 2  # failed once, delivered again
    assert front["snapshots/front/2026-12-04T08-00-00.jpg"]["batch"] > 1  # the rings waiting came in one batch
    empty = {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}
    _eventually(cloud, lambda: cloud.client("sqs").get_queue_attributes(  # the poller deletes after the handler rang
        QueueUrl=door_camera["chime_queue_url"], AttributeNames=list(empty))["Attributes"],
        lambda attributes: attributes == empty, "the chime queue's messages, each deleted once rung")


def test_the_fifo_chime_keeps_each_doors_order_through_the_redelivery(cloud, door_camera, uploaded):
    """The rings after the blurry one were reported failed with it (the consumer stops at a failure, as Lambda asks
    for FIFO queues): SQS must hand them back in the group's order
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-queues-understanding-logic.html:
    "messages that belong to the same message group are always processed one by one, in a strict order")."""
    order = {door: [c["snapshot"] for c in _chimes(cloud, door_camera, door)] for door in uploaded}
    assert order == uploaded


def test_the_rings_sequence_numbers_grow_within_each_door(cloud, door_camera, uploaded):
    """https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html: "SequenceNumber
    continues to increase for a particular MessageGroupId"; the chime's records carry the same number."""
    for door, keys in uploaded.items():
        sequences = [v["chime_sequence"] for v in _visits(cloud, door_camera, door)]  # in upload order
        chimed = {c["snapshot"]: c["sequence"] for c in _chimes(cloud, door_camera, door)}
        assert [chimed[key] for key in keys] == sequences
        assert sorted(sequences, key=int) == sequences


def test_the_schedule_reports_through_the_state_machine(cloud, door_camera, uploaded):
    for door, expected in EXPECTED_COUNTS.items():
        _eventually(cloud, lambda door=door: _counter(cloud, door_camera, door).get("visits", 0),
                    lambda visits, expected=expected: visits >= expected, f"the counter of {door}")
    advance_clock(cloud, 61)  # rate(1 minute) fires: the emulator's clock moves, on AWS a minute passes
    sfn = cloud.client("stepfunctions")
    machine = door_camera["report_machine_arn"]

    def finished_with_all_counts() -> list[dict[str, Any]]:
        executions = sfn.list_executions(stateMachineArn=machine)["executions"]
        described = [sfn.describe_execution(executionArn=e["executionArn"]) for e in executions]
        return [d for d in described if json.loads(d["input"])["counts"] == EXPECTED_COUNTS
                and d["status"] != "RUNNING"]

    report = _eventually(cloud, finished_with_all_counts, bool, "a finished report of every visit")[0]
    assert report["status"] == "SUCCEEDED"
    assert json.loads(report["output"]) == EXPECTED_REPORT
    history = sfn.get_execution_history(executionArn=report["executionArn"])["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]
    assert entered == ["Tally", "Busy day?", "Busy"]


def _who_visited(cloud, door_camera, base_url: str) -> None:
    """GET /visits/front answers the front door's snapshots from version 1 (behind the alias); a wrong path is a 404."""
    _eventually(cloud, lambda: _visits(cloud, door_camera, "front"),
                lambda found: len(found) >= len(SNAPSHOTS["front"]), "the visits of front")
    status, _, body = http_call(cloud, f"{base_url}/nowhere")
    assert status == 404 and "nowhere" in json.loads(body)["message"]
    status, headers, body = http_call(cloud, f"{base_url}/visits/front")
    assert status == 200, body
    assert headers["Content-Type"] == "application/json"
    answer = json.loads(body)
    assert (answer["door"], answer["visits"]) == ("front", SNAPSHOTS["front"])
    assert (answer["version"], answer["release"]) == ("1", "v1")


def test_the_rest_api_answers_who_visited_from_the_alias(cloud, door_camera, uploaded):
    """The integration's URI names the alias ARN: API Gateway invokes that alias
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html)."""
    _who_visited(cloud, door_camera, door_camera["api_url"])


def test_the_function_url_answers_who_visited_from_the_alias(cloud, door_camera, uploaded):
    """A URL made with Qualifier=live serves the alias: "You can apply function URLs to any function alias, or to the
    $LATEST unpublished function version" (https://docs.aws.amazon.com/lambda/latest/dg/urls-configuration.html)."""
    _who_visited(cloud, door_camera, door_camera["function_url"].rstrip("/"))


def test_the_alias_runs_version_1_while_latest_has_moved_on(cloud, door_camera, uploaded):
    lam = cloud.client("lambda")
    name = door_camera["names"]["fn:visitors"]
    event = json.dumps({"path": "/visits/back"}).encode()
    live = lam.invoke(FunctionName=name, Qualifier=ALIAS, Payload=event)
    latest = lam.invoke(FunctionName=name, Payload=event)
    assert live["ExecutedVersion"] == "1" and latest["ExecutedVersion"] == "$LATEST"
    answers = [json.loads(json.loads(r["Payload"].read())["body"]) for r in (live, latest)]
    assert [(a["version"], a["release"]) for a in answers] == [("1", "v1"), ("$LATEST", "next")]


def test_a_standard_topic_refuses_the_fifo_queue_as_aws_does(cloud, door_camera):
    """Why the recorder rings the chime itself: SNS standard topics cannot deliver to FIFO queues
    (https://docs.aws.amazon.com/sns/latest/dg/fifo-message-delivery.html, "Amazon SNS standard topics can deliver
    messages to standard queues"; FIFO queues subscribe to FIFO topics only)."""
    sns = cloud.client("sns")
    try:
        subscription = sns.subscribe(TopicArn=door_camera["arns"]["topic"], Protocol="sqs",
                                     Endpoint=door_camera["arns"]["chime_queue"],
                                     ReturnSubscriptionArn=True)["SubscriptionArn"]
    except ClientError as error:
        assert error.response["Error"]["Code"] == "InvalidParameter"
        return
    sns.unsubscribe(SubscriptionArn=subscription)
    pytest.xfail("the emulator let a FIFO queue subscribe to a standard SNS topic; AWS refuses it (InvalidParameter)")


def test_no_function_was_refused_anything_it_did(cloud, door_camera, uploaded):
    """The project's least-privilege policies are enough: no `IAM:` line in any function's log group. Runs last:
    every flow above has happened by now."""
    denied = {}
    for function in FUNCTIONS:
        lines = log_messages(cloud, door_camera["names"][f"fn:{function}"], timeout=0)
        assert any(line.startswith("START ") for line in lines), f"{function} never ran"
        denied[function] = [line for line in lines if "IAM:" in line]
    assert denied == {f: [] for f in FUNCTIONS}
