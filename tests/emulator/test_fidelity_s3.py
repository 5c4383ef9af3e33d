"""Fidelity, issue 12 items 6 and 7: one event per multipart upload; S3 event records in AWS's full shape."""

import json
from pathlib import Path

import pytest
from boto3.s3.transfer import TransferConfig

from tests.emulator.conftest import receive_all
from tests.emulator.fidelity import connected
from tests.emulator.functions import HANDLERS

pytestmark = pytest.mark.integration

REFERENCE_EVENT = Path(__file__).resolve().parent.parent / "events" / "s3-object-created-put.json"
MULTIPART = TransferConfig()  # boto3's defaults: multipart from 8 MB, as a student's upload_file uses them


@pytest.fixture(scope="module")
def cloud(request):
    with connected(request) as cloud:
        yield cloud


@pytest.fixture
def reported(cloud):
    """A bucket whose ObjectCreated events run a function that forwards each event to a queue: (bucket, receive)."""

    def setup(versioned=False):
        url, _ = cloud.queue()
        function = cloud.function(HANDLERS["report"], env={"REPORT_QUEUE_URL": url})
        bucket = cloud.bucket(versioned=versioned)
        cloud.notify(bucket, function)
        sqs = cloud.client("sqs")
        return bucket, lambda expected, timeout=cloud.patience: [
            json.loads(m["Body"]) for m in receive_all(sqs, url, expected=expected, timeout=timeout)]

    return setup


def test_a_multipart_upload_fires_only_complete_multipart_upload(cloud, reported, tmp_path):
    bucket, receive = reported()
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\0" * (MULTIPART.multipart_threshold + 1024 * 1024))
    cloud.client("s3").upload_file(str(clip), bucket, "videos/big.mp4", Config=MULTIPART)
    events = receive(expected=2, timeout=5.0)
    assert [e["Records"][0]["eventName"] for e in events] == ["ObjectCreated:CompleteMultipartUpload"]


def test_s3_event_records_have_the_shape_aws_sends(cloud, reported):
    bucket, receive = reported(versioned=True)
    cloud.client("s3").put_object(Bucket=bucket, Key="videos/dev 1/x.mp4", Body=b"clip")
    [event] = receive(expected=1)
    reference = json.loads(REFERENCE_EVENT.read_text())
    assert _shape(event) == _shape(reference)
    record = event["Records"][0]
    assert record["eventVersion"] == "2.1" and record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["object"]["key"] == "videos/dev+1/x.mp4"
    assert record["s3"]["configurationId"] == "fidelity"


def _shape(value):
    """The keys of a JSON value, recursively, with each leaf's type (an event's shape, not its contents)."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(item) for item in value]
    return type(value).__name__
