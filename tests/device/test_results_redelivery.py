"""No result is lost: unreported messages come back, after the visibility timeout or at once on stop."""

import logging
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from contract import Result
from device.config import ConsumerConfig
from device.consumer import Delivery, ResultsConsumer

FAST = ConsumerConfig(wait_time_seconds=1, visibility_timeout=1, max_results=3)


def test_messages_received_but_not_deleted_come_back_after_the_visibility_timeout(
    fifo_queue: str, sqs: Any, send: Callable[..., None], make_result: Callable[..., dict[str, Any]]
) -> None:
    send(fifo_queue, [make_result(frame_index=i) for i in range(3)])
    crashed = sqs.receive_message(QueueUrl=fifo_queue, MaxNumberOfMessages=10, VisibilityTimeout=1)
    assert len(crashed["Messages"]) == 3

    seen: list[Delivery] = []
    summary = ResultsConsumer(fifo_queue, 2, lambda r, d: seen.append(d), config=FAST).run()

    assert summary.results == 3
    assert {d.receive_count for d in seen} == {2}


def test_a_failing_report_leaves_the_message_for_redelivery(
    fifo_queue: str,
    send: Callable[..., None],
    make_result: Callable[..., dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    send(fifo_queue, [make_result(frame_index=0)])
    attempts: list[int] = []

    def flaky(result: Result, delivery: Delivery) -> None:
        attempts.append(delivery.receive_count)
        if len(attempts) == 1:
            raise BrokenPipeError("terminal went away")

    config = ConsumerConfig(wait_time_seconds=1, visibility_timeout=1, max_results=1)
    summary = ResultsConsumer(fifo_queue, 2, flaky, config=config).run()

    assert attempts == [1, 2]
    assert (summary.results, summary.failed) == (1, 1)
    assert "will be redelivered" in caplog.text


def test_stopping_mid_batch_hands_the_rest_back_at_once(
    fifo_queue: str, send: Callable[..., None], make_result: Callable[..., dict[str, Any]]
) -> None:
    bodies = [make_result(frame_index=i) for i in range(5)]
    send(fifo_queue, bodies)
    first: ResultsConsumer

    def stop_after_one(result: Result, delivery: Delivery) -> None:
        first.stop()

    slow_return = ConsumerConfig(wait_time_seconds=1, visibility_timeout=60)
    first = ResultsConsumer(fifo_queue, 1, stop_after_one, config=slow_return)
    assert first.run().results == 1

    rest = ResultsConsumer(fifo_queue, 1, config=ConsumerConfig(wait_time_seconds=1, max_results=4))
    assert rest.run().results == 4
    handled = [r.frame_key for r, _ in first.results() + rest.results()]
    assert sorted(handled) == sorted(b["frame_key"] for b in bodies)


def test_a_result_delivered_again_after_it_was_reported_is_deleted_not_counted_twice(
    fifo_queue: str,
    sqs: Any,
    send: Callable[..., None],
    make_result: Callable[..., dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="device.consumer")
    send(fifo_queue, [make_result(frame_index=0)])
    printed: list[Delivery] = []
    deletes: list[str] = []
    delete = sqs.delete_message

    def lost_first_delete(**request: Any) -> Any:
        deletes.append(request["ReceiptHandle"])
        if len(deletes) == 1:  # the first delete never reaches the queue: the message comes back
            raise ClientError({"Error": {"Code": "RequestTimeout", "Message": "lost"}}, "DeleteMessage")
        return delete(**request)

    sqs.delete_message = lost_first_delete
    config = ConsumerConfig(wait_time_seconds=1, visibility_timeout=1, idle_timeout=3)
    summary = ResultsConsumer(fifo_queue, 1, lambda r, d: printed.append(d), config=config, sqs=sqs).run()

    assert summary.results == 1 and len(printed) == 1 and len(deletes) == 2
    assert "already reported, deleted" in caplog.text
    assert "Messages" not in sqs.receive_message(QueueUrl=fifo_queue, WaitTimeSeconds=0)
