"""Device test fixtures: a moto server on 127.0.0.1 (free port) and boto3 pointed at it."""

import hashlib
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import DUMMY_ENV

CLEARED = (
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "VIDEOS_BUCKET",
    "RESULTS_QUEUE_URL",
    "STACK_NAME",
    "DEVICE_ID",
    "DEVICE_SPOOL_DIR",
)



@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Point boto3 at moto with obviously dummy credentials and no outside configuration."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    for name, value in DUMMY_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
    return moto_endpoint


@pytest.fixture
def s3(aws: str) -> Any:
    """A plain S3 client on moto."""
    return boto3.client("s3")


@pytest.fixture
def sqs(aws: str) -> Any:
    """A plain SQS client on moto."""
    return boto3.client("sqs")


@pytest.fixture
def bucket(s3: Any) -> str:
    """A fresh, empty bucket."""
    name = f"videos-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def fifo_queue(sqs: Any) -> str:
    """A fresh FIFO results queue (no redrive policy); returns its URL."""
    name = f"results-{uuid.uuid4().hex[:12]}.fifo"
    return sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"})["QueueUrl"]


@pytest.fixture
def send(sqs: Any) -> Callable[[str, list[Any]], None]:
    """Send bodies (dicts become JSON) to a FIFO queue the way the classifier does."""

    def send_all(queue_url: str, bodies: list[Any]) -> None:
        for number, body in enumerate(bodies):
            text = body if isinstance(body, str) else json.dumps(body)
            key = body["frame_key"] if isinstance(body, dict) else f"raw-{number}-{text}"
            group = body["device_id"] if isinstance(body, dict) else "pi-1"
            dedup = hashlib.sha256(f"{key}#{number}".encode()).hexdigest()
            sqs.send_message(QueueUrl=queue_url, MessageBody=text, MessageGroupId=group, MessageDeduplicationId=dedup)

    return send_all
