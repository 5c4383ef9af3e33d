"""Uploads follow the key/metadata contract at the set rate; the collector keeps every message raw and deletes it."""

import re
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from contract.keys import STAMP_PATTERN
from grader.collector import Collector
from grader.sender import Sender
from grader.workload import WorkItem
from tests.sqs_doubles import PollsOpenAtStop


def test_uploads_open_with_a_burst_then_follow_the_rate_keyed_by_capture_time_with_the_contract_metadata(
    client: Callable[[str], Any], tmp_path: Path
) -> None:
    s3, bucket = client("s3"), f"b-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    (tmp_path / "v.mp4").write_bytes(b"video")
    items = [WorkItem(f"test_{i}.mp4", tmp_path / "v.mp4", "v.mp4", ("floki",)) for i in range(5)]

    sender = Sender(s3, bucket, "grader", rate=20, burst=2)
    uploads = sender.run(items)

    assert [sender.offset(i) for i in range(5)] == pytest.approx([0, 0, 0.05, 0.1, 0.15])
    assert [u.index for u in uploads] == list(range(5)) and all(u.error is None for u in uploads)
    assert [u.key for u in uploads] == sorted({u.key for u in uploads})  # distinct, in schedule order
    head = s3.head_object(Bucket=bucket, Key=uploads[0].key)
    stamp = uploads[0].key.removeprefix("videos/grader/").removesuffix(".mp4")
    assert re.fullmatch(STAMP_PATTERN, stamp)
    assert head["Metadata"]["device-id"] == "grader" and head["Metadata"]["captured-at"] == stamp
    assert head["Metadata"]["uploaded-at"] >= stamp


def test_a_failed_put_is_recorded_not_raised(client: Callable[[str], Any], tmp_path: Path) -> None:
    (tmp_path / "v.mp4").write_bytes(b"video")
    items = [WorkItem("test_0.mp4", tmp_path / "v.mp4", "v.mp4", ("floki",))]

    uploads = Sender(client("s3"), "no-such-bucket-here", "grader", rate=10).run(items)

    assert uploads[0].error is not None and "NoSuchBucket" in uploads[0].error


def test_the_collector_keeps_bodies_and_group_ids_and_empties_the_queue(client: Callable[[str], Any]) -> None:
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=f"r-{uuid.uuid4().hex[:8]}.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    for index, (group, body) in enumerate([("grader", "{not json"), ("other", '{"a": 1}'), ("grader", "{}")]):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=str(index))
    collector = Collector(sqs, url, threads=2, wait_seconds=1)

    collector.start()
    deadline = time.monotonic() + 5
    while len(collector.received()) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    received = collector.stop()

    assert sorted((m.group_id, m.body) for m in received) == [
        ("grader", "{not json"),
        ("grader", "{}"),
        ("other", '{"a": 1}'),
    ]
    left = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )
    assert set(left["Attributes"].values()) == {"0"}


def test_the_collector_waits_for_its_open_polls_and_hands_back_what_they_bring_after_the_stop(
    client: Callable[[str], Any],
) -> None:
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=f"r-{uuid.uuid4().hex[:8]}.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    stop = threading.Event()
    gated = PollsOpenAtStop(sqs, stop)
    collector = Collector(gated, url, threads=2, wait_seconds=1, stop=stop)
    collector.start()
    gated.wait_for_polls(2)
    sqs.send_message(QueueUrl=url, MessageBody="{}", MessageGroupId="grader", MessageDeduplicationId="late")

    received = collector.stop()

    assert received == []
    left = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    assert (left["ApproximateNumberOfMessages"], left["ApproximateNumberOfMessagesNotVisible"]) == ("1", "0")
