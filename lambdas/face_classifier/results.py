"""Frame -> result messages: frame keys, the model cache, student lookups, FIFO entries (docs/contracts.md)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.config import Config

from facerec import UNKNOWN, FaceModel, Identification, load_model
from facerec.store import fetch_current_model

SCHEMA = 1
# Transient S3/SQS/DynamoDB failures are retried by botocore (standard mode: backoff with jitter), not by hand.
CLIENT_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 4}, connect_timeout=5, read_timeout=20)
MAX_BATCH_ENTRIES = 10  # SendMessageBatch takes at most 10 entries...
MAX_BATCH_BYTES = 256 * 1024  # ...and 256 KiB of bodies (the limit of any SQS queue, whatever its size setting)
STUDENT_FIELDS = ("name", "major", "year")
FRAME_KEY_RE = re.compile(
    r"^frames/(?P<device>[A-Za-z0-9][A-Za-z0-9._-]{0,63})/(?P<stamp>[A-Za-z0-9:._+-]{1,64})/(?P<index>\d{1,6})\.png$"
)

Lookup = Callable[[str], dict[str, str] | None]


class BadFrameKeyError(ValueError):
    """The key is not frames/<device-id>/<clip stamp>/<index>.png."""


class ResultsNotSentError(RuntimeError):
    """SQS refused some results of a frame: the invocation fails so the event is retried (FIFO dedup drops repeats)."""


@dataclass(frozen=True)
class FrameKey:
    """`frames/<device-id>/<clip stamp>/<index>.png`, parsed."""

    key: str
    device_id: str
    stamp: str
    index: int

    @classmethod
    def parse(cls, key: str) -> FrameKey:
        match = FRAME_KEY_RE.match(key)
        if not match or ".." in key:
            raise BadFrameKeyError(f"frame key {key!r} is not frames/<device-id>/<clip stamp>/<index>.png")
        return cls(key, match["device"], match["stamp"], int(match["index"]))

    @property
    def clip_key(self) -> str:
        return f"videos/{self.device_id}/{self.stamp}.mp4"


class ModelCache:
    """The current model from S3 `models/`, downloaded once per version into a local folder (/tmp)."""

    def __init__(self, s3: Any, bucket: str, cache_dir: Path) -> None:
        self._s3, self._bucket, self._cache_dir = s3, bucket, cache_dir
        self._model: FaceModel | None = None

    def current(self) -> FaceModel:
        """One small GET for the pointer; a download and a load only when the version changed."""
        folder = fetch_current_model(self._s3, self._bucket, self._cache_dir)
        if self._model is None or self._model.version != folder.name:
            self._model = load_model(folder)
        return self._model


def student_lookup(dynamodb: Any, table: str) -> Lookup:
    """A function name -> the student's {name, major, year}, or None when the table has no such record."""
    deserializer = TypeDeserializer()

    def lookup(name: str) -> dict[str, str] | None:
        item = dynamodb.get_item(TableName=table, Key={"name": {"S": name}}).get("Item")
        if item is None:
            return None
        record = {k: deserializer.deserialize(v) for k, v in item.items()}
        return {field: str(record.get(field, "")) for field in STUDENT_FIELDS}

    return lookup


def utc_stamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def base_message(frame: FrameKey, metadata: Mapping[str, str], model_version: str | None) -> dict[str, Any]:
    """The fields every result of one frame shares."""
    return {
        "schema": SCHEMA,
        "device_id": frame.device_id,
        "clip_key": metadata.get("clip-key", frame.clip_key),
        "frame_key": frame.key,
        "frame_index": frame.index,
        "captured_at": metadata.get("captured-at"),
        "uploaded_at": metadata.get("uploaded-at"),
        "model_version": model_version,
    }


def face_results(base: Mapping[str, Any], faces: list[Identification], lookup: Lookup) -> list[dict[str, Any]]:
    """One message per face; a frame without faces gets one `no_face` message."""
    if not faces:
        return [faceless_result(base, "no_face", "no face found in the frame")]
    return [_face_result(base, index, face, lookup) for index, face in enumerate(faces)]


def faceless_result(base: Mapping[str, Any], status: str, reason: str) -> dict[str, Any]:
    return {**base, "face_index": None, "status": status, "name": None, "confidence": None, "box": None,
            "student": None, "reason": reason}


def _face_result(base: Mapping[str, Any], index: int, face: Identification, lookup: Lookup) -> dict[str, Any]:
    result = {**base, "face_index": index, "name": face.name, "confidence": round(face.confidence, 4),
              "box": list(face.box), "student": None, "reason": None}
    if face.name == UNKNOWN:
        return {**result, "status": "unknown", "reason": "the face matches no enrolled person"}
    student = lookup(face.name)
    if student is None:
        return {**result, "status": "not_enrolled", "reason": f"{face.name} is not in the students table"}
    return {**result, "status": "recognized", "student": student}


def deduplication_id(frame_key: str, face_index: int | None) -> str:
    """Same frame and face -> same id, so a repeated S3 event yields no second FIFO message."""
    return hashlib.sha256(f"{frame_key}#{face_index}".encode()).hexdigest()


def queue_entries(results: list[dict[str, Any]]) -> list[dict[str, str]]:
    """SendMessageBatch entries: group = device id, dedup id from frame key and face index."""
    return [
        {
            "Id": str(position),
            "MessageBody": json.dumps(result, separators=(",", ":")),
            "MessageGroupId": result["device_id"],
            "MessageDeduplicationId": deduplication_id(result["frame_key"], result["face_index"]),
        }
        for position, result in enumerate(results)
    ]


def batches(entries: list[dict[str, str]]) -> Iterator[list[dict[str, str]]]:
    """Consecutive SendMessageBatch-sized groups: at most MAX_BATCH_ENTRIES entries and MAX_BATCH_BYTES of bodies."""
    batch: list[dict[str, str]] = []
    size = 0
    for entry in entries:
        body = len(entry["MessageBody"].encode())
        if body > MAX_BATCH_BYTES:
            raise ResultsNotSentError(f"a result message is {body} bytes, over SQS's {MAX_BATCH_BYTES}-byte limit")
        if batch and (len(batch) == MAX_BATCH_ENTRIES or size + body > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(entry)
        size += body
    if batch:
        yield batch


def send_results(sqs: Any, queue_url: str, results: list[dict[str, Any]]) -> None:
    """Sends every result in batches; raises ResultsNotSentError naming what SQS refused."""
    for batch in batches(queue_entries(results)):
        failed = sqs.send_message_batch(QueueUrl=queue_url, Entries=batch).get("Failed", [])
        if failed:
            reasons = "; ".join(f"{f.get('Code')}: {f.get('Message')}" for f in failed)
            raise ResultsNotSentError(f"SQS refused {len(failed)} of {len(batch)} results: {reasons}")
