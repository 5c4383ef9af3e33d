"""Reliability fixtures: the stack's dead-letter queue by object key, clip/frame PUTs, a log tail, face collages."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import cv2
import numpy as np
import pytest

import contract
from contract import clip_metadata, utc_stamp
from contract.aws import DLQ_ERROR_CODE, DLQ_ERROR_MESSAGE, DLQ_INVOKE_COUNT
from tests.conftest import FIXTURES, RunningEmulator
from tests.emulator.conftest import lam  # noqa: F401  (the IAM role the emulator tests' functions run as)
from tests.pipeline.conftest import LABELS, ResultCollector, upload_clip

GOOD_VIDEO = "test_2.mp4"
FIVE = ["president_trump", "mr_bean", "johnny_dep", "president_biden", "floki"]  # faces the model knows


@dataclass(frozen=True)
class DeadLetter:
    """One DLQ message: the object key of its event, why it failed, the raw body."""

    key: str
    error_code: str
    error_message: str
    invoke_count: int | None
    body: str


class DeadLetterCollector:
    """Drains the stack's dead-letter queue on a thread and files each entry by its S3 object key."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs, self._queue_url = sqs, queue_url
        self._by_key: dict[str, list[DeadLetter]] = defaultdict(list)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def wait_for(self, key: str, timeout: float = 20.0) -> list[DeadLetter]:
        """The entries for `key` once one arrived (or none after `timeout`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._by_key[key]:
                    break
            time.sleep(0.05)
        with self._lock:
            return list(self._by_key[key])

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _drain(self) -> None:
        while not self._stop.is_set():
            batch = self._sqs.receive_message(QueueUrl=self._queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                              MessageAttributeNames=["All"])
            for message in batch.get("Messages", []):
                letter = _dead_letter(message)
                with self._lock:
                    self._by_key[letter.key].append(letter)
                self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])


def _dead_letter(message: dict[str, Any]) -> DeadLetter:
    attributes = {name: value["StringValue"] for name, value in message.get("MessageAttributes", {}).items()}
    records = json.loads(message["Body"]).get("Records") or [{}]
    key = unquote_plus(records[0].get("s3", {}).get("object", {}).get("key", ""))
    count = attributes.get(DLQ_INVOKE_COUNT)
    return DeadLetter(key, attributes.get(DLQ_ERROR_CODE, ""), attributes.get(DLQ_ERROR_MESSAGE, ""),
                      int(count) if count else None, message["Body"])


@pytest.fixture(scope="session")
def dead_letters(emulator: RunningEmulator) -> Iterator[DeadLetterCollector]:
    collector = DeadLetterCollector(emulator.client("sqs"), emulator.outputs["DeadLetterQueueUrl"])
    yield collector
    collector.stop()


class LogTail:
    """Reads a growing log file from where it ended when the tail was made."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._offset = path.stat().st_size
        self.text = ""

    def wait_for(self, needle: str, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while needle not in self.text and time.monotonic() < deadline:
            with self._path.open("rb") as log:
                log.seek(self._offset)
                chunk = log.read()
            self._offset += len(chunk)
            self.text += chunk.decode("utf-8", "replace")
            time.sleep(0.005)
        return needle in self.text


def put_clip(emulator: RunningEmulator, device: str, body: bytes, key: str | None = None) -> str:
    """PUTs any bytes as a device clip with the contract's metadata, under `key` if given (odd keys); the key."""
    s3, bucket = emulator.client("s3"), emulator.outputs["VideosBucket"]
    if key is None:
        return contract.put_clip(s3, bucket, device, utc_stamp(), body)
    s3.put_object(Bucket=bucket, Key=key, Body=body, Metadata=clip_metadata(device, utc_stamp()))
    return key


def wait_for_results(results: ResultCollector, device: str, field: str, value: str, count: int = 1,
                     timeout: float = 30.0) -> list[dict[str, Any]]:
    """The device's results whose `field` equals `value`, once `count` arrived (or what came by `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [r for r in results.wait_for(device, count=0, timeout=0) if r[field] == value]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def assert_good_clip_answered(emulator: RunningEmulator, results: ResultCollector, device: str) -> str:
    """A good clip from the same device still comes back as the right person; returns its key."""
    key = upload_clip(emulator, device, GOOD_VIDEO)
    [result] = wait_for_results(results, device, "clip_key", key)
    assert (result["status"], result["name"]) == ("recognized", LABELS[GOOD_VIDEO]), result
    return key


def first_frame(video: str) -> np.ndarray:
    capture = cv2.VideoCapture(str(FIXTURES / "videos" / video))
    ok, frame = capture.read()
    capture.release()
    assert ok, video
    return frame


@pytest.fixture(scope="session")
def face_crops() -> dict[str, np.ndarray]:
    """Each fixture person's face (with some margin) cut from the first frame of their video."""
    from facerec import detect_faces

    crops = {}
    for video, person in LABELS.items():
        frame = first_frame(video)
        top, right, bottom, left = detect_faces(frame)[0]
        height, width = bottom - top, right - left
        crops[person] = frame[max(0, top - height // 3):bottom + height // 4,
                              max(0, left - width // 4):right + width // 4]
    return crops


def collage(crops: list[np.ndarray], side: int = 180, columns: int = 5) -> np.ndarray:
    """The crops resized to side x side on a grey canvas, `columns` per row, 40 px apart."""
    rows = -(-len(crops) // columns)
    canvas = np.full((rows * (side + 40) + 40, columns * (side + 40) + 40, 3), 128, np.uint8)
    for index, crop in enumerate(crops):
        row, column = divmod(index, columns)
        top, left = 40 + row * (side + 40), 40 + column * (side + 40)
        canvas[top:top + side, left:left + side] = cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)
    return canvas


def png(image: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(".png", image)
    assert ok
    return buffer.tobytes()


def make_video(path: Path, size: tuple[int, int], fps: float, frames: int, fourcc: str = "mp4v") -> bytes:
    """Writes `frames` copies of the good clip's first frame at `size` (w, h); returns the file's bytes."""
    image = cv2.resize(first_frame(GOOD_VIDEO), size, interpolation=cv2.INTER_AREA)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), fps, size)
    assert writer.isOpened(), f"cannot write {fourcc} video at {size}"
    for _ in range(frames):
        writer.write(image)
    writer.release()
    return path.read_bytes()
