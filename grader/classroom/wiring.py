"""The course's 2024 wiring: each video PUT as `<request name>.mp4` at the input bucket's root, each answer an
object `<request name>.txt` in the output bucket holding the person's name.

An answer object becomes a contract result (docs/contracts.md) carrying the name and the students table's
record for it, so grader.checker judges it as it judges a queue message: only the name can be wrong.
"""

import logging
import time
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

from contract import Origin, Outcome, Result, Student, client_config, clip_key, frame_key
from grader.collector import Collector, Received
from grader.config import RunSettings
from grader.run import Target
from grader.sender import Sender
from grader.workload import WorkItem

logger = logging.getLogger(__name__)

ANSWER_SUFFIX = ".txt"
VIDEO_CONTENT_TYPE = "video/mp4"
POLL_SECONDS = 0.25
MAX_ANSWER_BYTES = 1024


class CourseSender(Sender):
    """Uploads each request under its own name at the bucket's root; remembers which clip key it stands for."""

    def __init__(self, *args: Any, keys: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._keys = keys

    def _put(self, item: WorkItem, stamp: str, body: bytes, started: float) -> None:
        self._keys[PurePosixPath(item.name).stem] = clip_key(self._device_id, stamp)
        self._s3.put_object(Bucket=self._bucket, Key=item.name, Body=body, ContentType=VIDEO_CONTENT_TYPE)


class BucketCollector(Collector):
    """Lists the output bucket until stopped; each new `<stem>.txt` of an upload becomes one received result."""

    def __init__(self, s3: Any, bucket: str, keys: dict[str, str], students: dict[str, Student], device: str) -> None:
        super().__init__(None, f"s3://{bucket}/", threads=1)
        self._s3, self._bucket, self._keys = s3, bucket, keys
        self._students, self._device = students, device
        self._seen: set[str] = set()

    def _receive_once(self) -> None:
        pages = self._s3.get_paginator("list_objects_v2").paginate(Bucket=self._bucket)
        for obj in (o for page in pages for o in page.get("Contents", [])):
            stem = PurePosixPath(obj["Key"]).stem
            if obj["Key"] in self._seen or not obj["Key"].endswith(ANSWER_SUFFIX) or stem not in self._keys:
                continue
            self._seen.add(obj["Key"])
            answer = self._read(obj["Key"])
            body = self._result(self._keys[stem], answer).to_json()
            with self._lock:
                self._received.append(Received(f"s3://{self._bucket}/{obj['Key']}", body, self._device, time.time()))
        self._stop.wait(POLL_SECONDS)

    def _read(self, key: str) -> str:
        """The answer's text (its first line, stripped; at most MAX_ANSWER_BYTES are read)."""
        body = self._s3.get_object(Bucket=self._bucket, Key=key, Range=f"bytes=0-{MAX_ANSWER_BYTES - 1}")["Body"]
        lines = body.read().decode(errors="replace").strip().splitlines()
        return lines[0].strip() if lines else ""

    def _result(self, clip: str, name: str) -> Result:
        """The contract result a queue-answering pipeline would have sent for this answer."""
        stamp = clip.rsplit("/", 1)[1].removesuffix(".mp4")
        origin = {"device_id": self._device, "clip_key": clip, "frame_key": frame_key(self._device, stamp, 0),
                  "frame_index": 0, "captured_at": stamp, "uploaded_at": stamp}
        if name:
            outcome = Outcome.face(0, name, 1.0, (0, 0, 0, 0), self._students.get(name))
        else:
            outcome = Outcome.faceless("no_face", "the answer object is empty")
        return Result.of(Origin.model_validate(origin), outcome, datetime.now(UTC), {})


class CourseWiring:
    """grader.run.Wiring for the 2024 layout: CourseSender in, BucketCollector out, sharing the key map."""

    def __init__(self, output_bucket: str, students: dict[str, Student]) -> None:
        self._output_bucket = output_bucket
        self._students = students
        self._keys: dict[str, str] = {}

    def sender(self, target: Target, settings: RunSettings) -> Sender:
        s3 = target.endpoint.client("s3", client_config(max_pool_connections=settings.upload_threads + 2))
        return CourseSender(s3, target.stack.bucket, settings.device_id, settings.rate, settings.upload_threads,
                            settings.burst, keys=self._keys)

    def collector(self, target: Target, settings: RunSettings) -> Collector:
        return BucketCollector(target.endpoint.client("s3"), self._output_bucket, self._keys, self._students,
                               settings.device_id)
