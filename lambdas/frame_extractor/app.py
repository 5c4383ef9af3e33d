"""Frame extractor Lambda: a clip under videos/ -> PNG frames under frames/, with the clip's times."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from frames import ENV_FRAMES_PER_CLIP, BadClipError, FrameSelection, Limits, extract_frames

from contract import CLIENT_CONFIG, BadKeyError, ClipKey, carried_metadata, utc_stamp
from contract.aws import dead_letter_attributes
from contract.keys import META_CLIP_KEY, META_EXTRACTED_AT, META_FRAME_INDEX

logger = Logger()
metrics = Metrics()
s3 = boto3.client("s3", config=CLIENT_CONFIG)
sqs = boto3.client("sqs", config=CLIENT_CONFIG)
SELECTION = FrameSelection.parse(os.environ.get(ENV_FRAMES_PER_CLIP, "1"))
LIMITS = Limits.from_env()


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    written = 0
    for record in S3Event(event).records:
        logger.append_keys(clip_key=unquote_plus(record.s3.get_object.key))
        try:
            written += split_clip(record)
        except (BadClipError, BadKeyError) as exc:
            reject(record, str(exc))
    return {"frames": written}


def split_clip(record: S3EventRecord) -> int:
    """Writes the selected frames of one clip; returns how many."""
    bucket, key, size = record.s3.bucket.name, unquote_plus(record.s3.get_object.key), record.s3.get_object.size
    clip = ClipKey.parse(key)
    if not 0 < size <= LIMITS.max_bytes:
        raise BadClipError(f"the clip is {size} bytes; a clip must be 1 byte to {LIMITS.max_bytes} bytes")
    obj = s3.get_object(Bucket=bucket, Key=key)
    metadata = carried_metadata(clip, obj["Metadata"], record.event_time)
    metadata.update({META_CLIP_KEY: key, META_EXTRACTED_AT: utc_stamp()})
    written = 0
    with tempfile.NamedTemporaryFile(suffix=".mp4") as local:  # never a path built from the key
        shutil.copyfileobj(obj["Body"], local)
        local.flush()
        for index, png in extract_frames(Path(local.name), SELECTION, LIMITS):
            s3.put_object(Bucket=bucket, Key=clip.frame_key(index), Body=png, ContentType="image/png",
                          Metadata={**metadata, META_FRAME_INDEX: str(index)})
            written += 1
    logger.info("extracted frames", extra={"frames": written})
    metrics.add_metric(name="FramesExtracted", unit=MetricUnit.Count, value=written)
    return written


def reject(record: S3EventRecord, reason: str) -> None:
    """A clip no retry can fix goes straight to the dead-letter queue, with the reason."""
    logger.error("rejected clip", extra={"reason": reason})
    metrics.add_metric(name="ClipsRejected", unit=MetricUnit.Count, value=1)
    sqs.send_message(
        QueueUrl=os.environ["DEAD_LETTER_QUEUE_URL"],
        MessageBody=json.dumps({"Records": [record.raw_event]}),
        MessageAttributes=dead_letter_attributes("BadClip", reason, os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")),
    )
