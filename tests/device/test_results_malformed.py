"""A malformed message is reported clearly, never kills a thread, and is not silently lost."""

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from device.config import ConsumerConfig
from device.consumer import ResultsConsumer


def test_malformed_body_is_logged_left_for_redelivery_then_dropped_without_a_dlq(
    fifo_queue: str,
    sqs: Any,
    send: Callable[..., None],
    make_result: Callable[..., dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    send(fifo_queue, ["{not json", make_result(device_id="pi-2")])
    config = ConsumerConfig(wait_time_seconds=1, visibility_timeout=1, idle_timeout=3, max_malformed_receives=2)
    summary = ResultsConsumer(fifo_queue, 2, config=config).run()

    assert summary.results == 1 and summary.malformed == 2
    assert "malformed result message" in caplog.text and "not JSON" in caplog.text
    assert "dropping malformed message" in caplog.text and "'{not json'" in caplog.text
    count = sqs.get_queue_attributes(QueueUrl=fifo_queue, AttributeNames=["ApproximateNumberOfMessages"])
    assert count["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_with_a_redrive_policy_malformed_messages_go_to_the_dead_letter_queue(sqs: Any) -> None:
    name = uuid.uuid4().hex[:12]
    dlq = sqs.create_queue(QueueName=f"dlq-{name}.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})
    queue = sqs.create_queue(
        QueueName=f"results-{name}.fifo", Attributes={"FifoQueue": "true", "RedrivePolicy": policy}
    )["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody='{"schema": 1}', MessageGroupId="pi-1", MessageDeduplicationId="a")

    config = ConsumerConfig(wait_time_seconds=1, visibility_timeout=1, idle_timeout=3, max_malformed_receives=1)
    summary = ResultsConsumer(queue, 1, config=config).run()

    assert summary.results == 0 and summary.malformed == 1
    moved = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1)["Messages"]
    assert [m["Body"] for m in moved] == ['{"schema": 1}']
