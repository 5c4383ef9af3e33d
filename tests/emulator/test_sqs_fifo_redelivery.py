"""A FIFO group's messages that come back after their visibility timeout come back in the group's order, however
the clock moves while a receive looks at the queue.

moto decides per message whether its group is in flight, reading the clock again for each one: when a group's
messages became visible during one receive, the first was skipped (its group still had the second in flight) and
the second handed out alone, ahead of it (seen under load as the door camera's back door chiming out of order).
Each look at the queue now reads the clock once. The clock here ticks on every read, so a receive always spans
the instant the messages become visible; the offsets walk that instant through the whole receive."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.sqs.models import sqs_backends

from emulator.aws import sqs as sqs_wing
from emulator.aws.registry import PatchRegistry
from emulator.config import DEFAULT_ACCOUNT, DEFAULT_REGION

VISIBILITY_SECONDS = 1
TICK_SECONDS = 0.001


class TickingClock:
    """`time` for emulator/aws/sqs.py whose time() moves on a tick at every read, from where the test puts it."""

    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        self.now += TICK_SECONDS
        return self.now

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> TickingClock:
    ticking = TickingClock()
    monkeypatch.setattr(sqs_wing, "time", ticking)
    return ticking


@pytest.fixture
def sqs() -> Iterator[Any]:
    """An SQS client on moto in process, with the emulator's SQS patches."""
    hooks = PatchRegistry()
    with mock_aws():
        hooks.install(sqs_wing.patches())
        try:
            yield boto3.client("sqs", region_name=DEFAULT_REGION, aws_access_key_id="x", aws_secret_access_key="y")
        finally:
            hooks.uninstall()


def _visible_again_at(queue_url: str) -> float:
    """When the queue's first message becomes visible again, in seconds."""
    queue = sqs_backends[DEFAULT_ACCOUNT][DEFAULT_REGION].queues[queue_url.rsplit("/", 1)[1]]
    return float(queue._messages[0].visible_at) / 1000


def _bodies(sqs: Any, queue_url: str) -> list[str]:
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                   VisibilityTimeout=VISIBILITY_SECONDS).get("Messages", [])
    return [m["Body"] for m in messages]


def test_a_groups_messages_come_back_in_order_when_they_become_visible_during_a_receive(
        sqs: Any, clock: TickingClock) -> None:
    out_of_order = {}
    for ticks_before in range(1, 40):
        queue_url = sqs.create_queue(QueueName=f"order-{uuid.uuid4().hex[:8]}.fifo",
                                     Attributes={"FifoQueue": "true"})["QueueUrl"]
        for body in ("first", "second"):
            sqs.send_message(QueueUrl=queue_url, MessageBody=body, MessageGroupId="door",
                             MessageDeduplicationId=body)
        assert _bodies(sqs, queue_url) == ["first", "second"]  # in flight together, as a failed batch is
        clock.now = _visible_again_at(queue_url) - ticks_before * TICK_SECONDS
        redelivered = _bodies(sqs, queue_url)
        while not redelivered:  # received before both were visible again: the next receive, a little later
            redelivered = _bodies(sqs, queue_url)
        if redelivered != ["first", "second"]:
            out_of_order[ticks_before] = redelivered
    assert out_of_order == {}
