"""The consumer reports every result and deletes each message only after reporting it."""

import threading
from collections.abc import Callable
from typing import Any

import boto3

from contract import Result
from device.config import ConsumerConfig
from device.consumer import Delivery, ResultsConsumer


def test_each_message_is_deleted_only_after_it_was_printed(
    fifo_queue: str, send: Callable[..., None], make_result: Callable[..., dict[str, Any]]
) -> None:
    bodies = [make_result(frame_index=i) for i in range(6)]
    send(fifo_queue, bodies)
    events: list[tuple[str, str]] = []
    lock = threading.Lock()
    sqs = boto3.client("sqs")

    def on_delete(params: dict[str, Any], **_: Any) -> None:
        with lock:
            events.append(("deleted", params["ReceiptHandle"]))

    def on_result(result: Result, delivery: Delivery) -> None:
        with lock:
            events.append(("printed", result.frame_key))

    sqs.meta.events.register("provide-client-params.sqs.DeleteMessage", on_delete)
    config = ConsumerConfig(wait_time_seconds=1, max_results=6)
    summary = ResultsConsumer(fifo_queue, threads=3, on_result=on_result, config=config, sqs=sqs).run()

    assert summary.results == 6 and summary.by_status == {"recognized": 6}
    kinds = [kind for kind, _ in events]
    assert kinds.count("printed") == kinds.count("deleted") == 6
    assert all(kinds[:n].count("printed") >= kinds[:n].count("deleted") for n in range(len(kinds) + 1))
    assert kinds[0] == "printed"
    assert sorted(key for kind, key in events if kind == "printed") == sorted(b["frame_key"] for b in bodies)
    attributes = sqs.get_queue_attributes(QueueUrl=fifo_queue, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_fifty_threads_with_latency_from_upload_and_capture(
    fifo_queue: str, send: Callable[..., None], make_result: Callable[..., dict[str, Any]]
) -> None:
    send(fifo_queue, [make_result(frame_index=i, device_id=f"pi-{i}") for i in range(4)])
    seen: list[Delivery] = []
    consumer = ResultsConsumer(
        fifo_queue,
        threads=50,
        on_result=lambda r, d: seen.append(d),
        config=ConsumerConfig(wait_time_seconds=1, max_results=4),
    )
    summary = consumer.run()

    assert summary.results == 4 and len(consumer.results()) == 4
    for delivery in seen:
        assert delivery.capture_latency_ms >= delivery.upload_latency_ms >= 250 - 1
        assert delivery.receive_count == 1
