"""Frame -> result messages: the model cache, student lookups, outcomes per face, FIFO entries.

The message itself (keys, fields, validation) is the contract's: `contract.Result`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from contract import UNKNOWN, Outcome, Result, Student
from facerec import FaceModel, Identification, load_model
from facerec.store import fetch_current_model

MAX_BATCH_ENTRIES = 10  # SendMessageBatch takes at most 10 entries...
MAX_BATCH_BYTES = 256 * 1024  # ...and 256 KiB of bodies (the limit of any SQS queue, whatever its size setting)
STUDENT_FIELDS = ("name", "major", "year")

Lookup = Callable[[str], Student | None]


class ResultsNotSentError(RuntimeError):
    """SQS refused some results of a frame: the invocation fails so the event is retried (FIFO dedup drops repeats)."""


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
    """A function name -> the student's record, or None when the table has no such record."""
    deserializer = TypeDeserializer()

    def lookup(name: str) -> Student | None:
        item = dynamodb.get_item(TableName=table, Key={"name": {"S": name}}).get("Item")
        if item is None:
            return None
        record = {k: deserializer.deserialize(v) for k, v in item.items()}
        return Student(*(str(record.get(field, "")) for field in STUDENT_FIELDS))

    return lookup


def face_outcomes(faces: list[Identification], lookup: Lookup) -> list[Outcome]:
    """One outcome per face (strangers are not looked up); a frame without faces gets one `no_face`."""
    if not faces:
        return [Outcome.faceless("no_face", "no face found in the frame")]
    return [_face_outcome(index, face, lookup) for index, face in enumerate(faces)]


def _face_outcome(index: int, face: Identification, lookup: Lookup) -> Outcome:
    student = None if face.name == UNKNOWN else lookup(face.name)
    return Outcome.face(index, face.name, face.confidence, tuple(face.box), student)


def deduplication_id(frame_key: str, face_index: int | None) -> str:
    """Same frame and face -> same id, so a repeated S3 event yields no second FIFO message."""
    return hashlib.sha256(f"{frame_key}#{face_index}".encode()).hexdigest()


def queue_entries(results: list[Result]) -> list[dict[str, str]]:
    """SendMessageBatch entries: group = device id, dedup id from frame key and face index."""
    return [
        {
            "Id": str(position),
            "MessageBody": result.to_json(),
            "MessageGroupId": result.device_id,
            "MessageDeduplicationId": deduplication_id(result.frame_key, result.face_index),
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


def send_results(sqs: Any, queue_url: str, results: list[Result]) -> None:
    """Sends every result in batches; raises ResultsNotSentError naming what SQS refused."""
    for batch in batches(queue_entries(results)):
        failed = sqs.send_message_batch(QueueUrl=queue_url, Entries=batch).get("Failed", [])
        if failed:
            reasons = "; ".join(f"{f.get('Code')}: {f.get('Message')}" for f in failed)
            raise ResultsNotSentError(f"SQS refused {len(failed)} of {len(batch)} results: {reasons}")
