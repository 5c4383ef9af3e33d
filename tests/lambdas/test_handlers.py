"""Each Lambda's `app.lambda_handler`, fed captured S3 events (tests/events/), against the session's moto server.

The chain a clip uploaded by hand (`aws s3 cp`, no metadata) takes: its frame carries a capture time taken from
the key, and the classifier's results are valid under the contract's own model.
"""

import importlib.util
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest

from contract import Result
from emulator.config import dummy_session
from facerec.store import publish_model
from tests.conftest import DUMMY_ENV, FIXTURES, ROOT

EVENTS = ROOT / "tests" / "events"
BUCKET = "facepipe-events-test"  # the bucket the captured events name
LABELS = json.loads((FIXTURES / "labels.json").read_text())
STUDENTS = json.loads((FIXTURES / "student_data.json").read_text())
LEFT_OUT = "floki"  # not in this module's students table: a recognised face that is not enrolled


@dataclass(frozen=True)
class Context:
    """The fields of a Lambda context that Powertools reads."""

    function_name: str
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True)
class Stack:
    """What the handlers run against: the two apps, clients, and the results queue."""

    extractor: ModuleType
    classifier: ModuleType
    s3: Any
    sqs: Any
    queue_url: str


def load_app(function: str) -> ModuleType:
    """lambdas/<function>/app.py as Lambda loads it: its folder first on sys.path, run once (INIT)."""
    folder = ROOT / "lambdas" / function
    sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location(f"{function}_app", folder / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def captured_event(name: str, key: str, size: int) -> dict[str, Any]:
    """A captured event with its object key (URL-encoded as S3 does) and size set."""
    event = json.loads((EVENTS / name).read_text())
    event["Records"][0]["s3"]["object"].update(key=quote_plus(key, safe="/"), size=size)
    return event


@pytest.fixture(scope="module")
def stack(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A bucket with the fixture model, a students table without LEFT_OUT, FIFO results and DLQ, both apps loaded."""
    aws = dummy_session(DUMMY_ENV["AWS_DEFAULT_REGION"])
    s3, sqs, dynamodb = (aws.client(service, endpoint_url=moto_endpoint) for service in ("s3", "sqs", "dynamodb"))
    s3.create_bucket(Bucket=BUCKET)
    publish_model(s3, BUCKET, FIXTURES / "model")
    table = "facepipe-events-students"
    dynamodb.create_table(TableName=table, KeySchema=[{"AttributeName": "name", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "name", "AttributeType": "S"}],
                          BillingMode="PAY_PER_REQUEST")
    for record in STUDENTS:
        if record["name"] != LEFT_OUT:
            dynamodb.put_item(TableName=table, Item={k: {"S": str(v)} for k, v in record.items()})
    queue_url = sqs.create_queue(QueueName="facepipe-events-results.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    dead_letters = sqs.create_queue(QueueName="facepipe-events-dlq")["QueueUrl"]
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**DUMMY_ENV, "AWS_ENDPOINT_URL": moto_endpoint, "MEDIA_BUCKET": BUCKET,
                            "STUDENTS_TABLE": table, "RESULTS_QUEUE_URL": queue_url,
                            "DEAD_LETTER_QUEUE_URL": dead_letters, "POWERTOOLS_METRICS_NAMESPACE": "facepipe",
                            "TMPDIR": str(tmp_path_factory.mktemp("lambda-tmp"))}.items():
            patch.setenv(name, value)
        patch.setattr(sys, "path", list(sys.path))
        patch.setattr(boto3, "DEFAULT_SESSION", None)
        yield Stack(load_app("frame_extractor"), load_app("face_classifier"), s3, sqs, queue_url)
    for helper in ("frames", "results"):  # the apps' own modules, imported by their top-level names
        sys.modules.pop(helper, None)


def extract(stack: Stack, clip_key: str, body: bytes, metadata: dict[str, str] | None = None) -> str:
    """PUT a clip (metadata only if given, as `aws s3 cp` does), run the extractor on its event; the frame key."""
    stack.s3.put_object(Bucket=BUCKET, Key=clip_key, Body=body, Metadata=metadata or {})
    answer = stack.extractor.lambda_handler(captured_event("s3_put_clip_facepipe.json", clip_key, len(body)),
                                            Context("frame-extractor"))
    assert answer == {"frames": 1}
    device, stamp = clip_key.removeprefix("videos/").removesuffix(".mp4").split("/")
    return f"frames/{device}/{stamp}/0000.png"


def classify(stack: Stack, frame_key: str) -> list[Result]:
    """Run the classifier on the frame's event; the results it sent, validated by the contract's model."""
    size = stack.s3.head_object(Bucket=BUCKET, Key=frame_key)["ContentLength"]
    answer = stack.classifier.lambda_handler(captured_event("s3_put_frame_facepipe.json", frame_key, size),
                                             Context("face-classifier"))
    messages = stack.sqs.receive_message(QueueUrl=stack.queue_url, MaxNumberOfMessages=10).get("Messages", [])
    for message in messages:
        stack.sqs.delete_message(QueueUrl=stack.queue_url, ReceiptHandle=message["ReceiptHandle"])
    assert answer == {"results": len(messages)}
    return [Result.from_json(message["Body"]) for message in messages]


def video(name: str) -> bytes:
    return (FIXTURES / "videos" / name).read_bytes()


def test_a_clip_uploaded_without_metadata_gets_valid_results_captured_when_its_key_says(stack: Stack) -> None:
    frame_key = extract(stack, "videos/pi-1/2026-11-26T23:59:59.123Z.mp4", video("test_2.mp4"))
    metadata = stack.s3.head_object(Bucket=BUCKET, Key=frame_key)["Metadata"]
    assert metadata["captured-at"] == "2026-11-26T23:59:59.123Z"
    assert metadata["uploaded-at"] == "2026-11-26T23:59:59.480Z"  # the captured event's eventTime

    [result] = classify(stack, frame_key)

    assert (result.status, result.name, result.device_id) == ("recognized", LABELS["test_2.mp4"], "pi-1")
    assert result.to_dict()["captured_at"] == "2026-11-26T23:59:59.123Z"


def test_a_clip_with_the_devices_metadata_keeps_its_times(stack: Stack) -> None:
    times = {"device-id": "pi-2", "captured-at": "2026-11-26T23:59:58.000Z", "uploaded-at": "2026-11-26T23:59:58.100Z"}
    frame_key = extract(stack, "videos/pi-2/2026-11-26T23:59:58.000Z.mp4", video("test_0.mp4"), times)

    [result] = classify(stack, frame_key)

    assert {k: result.to_dict()[k] for k in ("captured_at", "uploaded_at")} == {
        "captured_at": times["captured-at"], "uploaded_at": times["uploaded-at"]}


def test_a_recognised_person_missing_from_the_table_is_not_enrolled(stack: Stack) -> None:
    frame_key = extract(stack, "videos/pi-3/2026-11-26T23:59:57.000Z.mp4", video("test_6.mp4"))

    [result] = classify(stack, frame_key)

    assert (result.status, result.name, result.student) == ("not_enrolled", LEFT_OUT, None)
    assert f"{LEFT_OUT} is not in the students table" in result.reason


def test_a_clip_that_is_not_a_video_goes_to_the_dead_letter_queue_with_its_reason(stack: Stack) -> None:
    key = "videos/pi-4/2026-11-26T23:59:56.000Z.mp4"
    stack.s3.put_object(Bucket=BUCKET, Key=key, Body=b"not a video")
    answer = stack.extractor.lambda_handler(captured_event("s3_put_clip_facepipe.json", key, 11),
                                            Context("frame-extractor"))
    assert answer == {"frames": 0}
    [letter] = stack.sqs.receive_message(QueueUrl=stack.extractor.os.environ["DEAD_LETTER_QUEUE_URL"],
                                         MessageAttributeNames=["All"])["Messages"]
    assert letter["MessageAttributes"]["ErrorCode"]["StringValue"] == "BadClip"
    assert "not a readable video" in letter["MessageAttributes"]["ErrorMessage"]["StringValue"]
