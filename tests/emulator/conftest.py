"""Fixtures for the Lambda service tests: an IAM role, a report queue, a DLQ, and each fidelity module's cloud."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from typing import Any

import pytest

from tests.conftest import RunningEmulator

FAST_SNAPSHOTS = {"EMULATOR_SNAPSHOT_SECONDS": "0.2"}  # the state on disk a fraction of a second behind
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}


@pytest.fixture(scope="module")
def cloud(request: pytest.FixtureRequest) -> Any:
    """The module's cloud (tests/emulator/fidelity.py): the emulator, or AWS with FIDELITY_ENDPOINT_URL."""
    from tests.emulator.fidelity import connected  # fidelity.py imports TRUST from here

    with connected(request) as connected_cloud:
        yield connected_cloud


@pytest.fixture(scope="session")
def lam(emulator: RunningEmulator) -> Any:
    iam = emulator.client("iam")
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_role(RoleName="test-lambda-role", AssumeRolePolicyDocument=json.dumps(TRUST))
    return emulator.client("lambda")


@pytest.fixture
def sqs(emulator: RunningEmulator) -> Any:
    return emulator.client("sqs")


@pytest.fixture
def report_queue(sqs: Any) -> str:
    return sqs.create_queue(QueueName=f"report-{uuid.uuid4().hex[:8]}")["QueueUrl"]


@pytest.fixture
def dead_letter_queue(sqs: Any) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=f"dlq-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def receive_all(sqs: Any, queue_url: str, expected: int, timeout: float = 10.0, **kwargs: Any) -> list[dict[str, Any]]:
    """Collects messages until `expected` arrived or `timeout` passed (then returns what came)."""
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(messages) < expected and time.monotonic() < deadline:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, **kwargs)
        for message in batch.get("Messages", []):
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            messages.append(message)
    return messages


def log_messages(emulator: RunningEmulator, function_name: str, timeout: float = 5.0,
                 until: str | None = None) -> list[str]:
    """Every CloudWatch Logs line of a function, waiting up to `timeout` for one containing `until`."""
    logs = emulator.client("logs")
    group = f"/aws/lambda/{function_name}"
    deadline = time.monotonic() + timeout
    while True:
        lines: list[str] = []
        try:
            for stream in logs.describe_log_streams(logGroupName=group)["logStreams"]:
                events = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"])["events"]
                lines += [e["message"] for e in events]
        except logs.exceptions.ResourceNotFoundException:
            pass
        if until is None or any(until in line for line in lines) or time.monotonic() > deadline:
            return lines
        time.sleep(0.2)
