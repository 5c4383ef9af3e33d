"""Pipeline fixtures: upload clips to the stack under test and collect results, validated by the contract, by device.

The stack is the embedded emulator's unless FACEPIPE_TEST_ENDPOINT names another (tests/conftest.py).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from contract import MalformedResultError, Result, clip_metadata, frame_key, put_clip, utc_stamp
from tests.conftest import FIXTURES, StackUnderTest

LABELS = json.loads((FIXTURES / "labels.json").read_text())
STUDENTS = {r["name"]: r for r in json.loads((FIXTURES / "student_data.json").read_text())}


class ResultCollector:
    """Drains the results queue on a thread (like the device's consumer) and files results by device.

    Every body is validated by the contract's model (`contract.Result`); results are kept in its wire form, and
    `wait_for` fails on any malformed body.
    """

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs, self._queue_url = sqs, queue_url
        self._by_device: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._malformed: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._idle = threading.Event()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def wait_for(self, device_id: str, count: int = 1, timeout: float = 30.0) -> list[dict[str, Any]]:
        """The device's results once `count` arrived (or whatever came within `timeout`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self._by_device[device_id]) >= count:
                    break
            time.sleep(0.05)
        with self._lock:
            assert not self._malformed, f"results that break the contract: {self._malformed}"
            return list(self._by_device[device_id])

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Stops receiving (after the poll in progress) so a test can play another consumer."""
        self._running.clear()
        self._idle.wait(5)
        try:
            yield
        finally:
            self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _drain(self) -> None:
        while not self._stop.is_set():
            if not self._running.is_set():
                self._idle.set()
                self._running.wait(0.5)
                continue
            self._idle.clear()
            batch = self._sqs.receive_message(QueueUrl=self._queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for message in batch.get("Messages", []):
                self._file(message["Body"])
                self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])


    def _file(self, body: str) -> None:
        """Validate one body and file it under its device (or among the malformed)."""
        try:
            result = Result.from_json(body).to_dict()
        except MalformedResultError as exc:
            with self._lock:
                self._malformed.append(f"{exc}: {body[:300]}")
            return
        with self._lock:
            self._by_device[result["device_id"]].append(result)


def new_device() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"


def upload_clip(stack: StackUnderTest, device_id: str, video: str) -> str:
    """PUTs a course video as a device clip, with the contract's metadata; returns the clip key."""
    body = (FIXTURES / "videos" / video).read_bytes()
    return put_clip(stack.client("s3"), stack.outputs["VideosBucket"], device_id, utc_stamp(), body)


def put_frame(stack: StackUnderTest, device_id: str, body: bytes) -> str:
    """PUTs any bytes as an extracted frame, with the clip metadata a frame carries; returns the key."""
    captured = utc_stamp()
    key = frame_key(device_id, captured, 0)
    stack.client("s3").put_object(Bucket=stack.outputs["FramesBucket"], Key=key, Body=body,
                                  Metadata=clip_metadata(device_id, captured))
    return key
