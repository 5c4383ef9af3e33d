"""Pipeline fixtures: upload clips/frames to the emulator's stack and collect results by device id."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from tests.conftest import FIXTURES, RunningEmulator

LABELS = json.loads((FIXTURES / "labels.json").read_text())
STUDENTS = {r["name"]: r for r in json.loads((FIXTURES / "student_data.json").read_text())}


class ResultCollector:
    """Drains the results queue on a thread (like the device's consumer) and files results by device."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs, self._queue_url = sqs, queue_url
        self._by_device: dict[str, list[dict[str, Any]]] = defaultdict(list)
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
                result = json.loads(message["Body"])
                with self._lock:
                    self._by_device[result["device_id"]].append(result)
                self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])


def new_device() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"


def stamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def upload_clip(emulator: RunningEmulator, device_id: str, video: str) -> str:
    """PUTs a course video as a device clip, with the contract's metadata; returns the clip key."""
    captured = stamp()
    key = f"videos/{device_id}/{captured}.mp4"
    emulator.client("s3").put_object(
        Bucket=emulator.outputs["VideosBucket"], Key=key, Body=(FIXTURES / "videos" / video).read_bytes(),
        Metadata={"device-id": device_id, "captured-at": captured, "uploaded-at": stamp()})
    return key
