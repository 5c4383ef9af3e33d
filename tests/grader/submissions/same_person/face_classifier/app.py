"""Stand-in classifier that answers president_trump for every frame, as a broken model would."""

import hashlib
import json
import os
from datetime import UTC, datetime
from urllib.parse import unquote_plus

import boto3

s3 = boto3.client("s3")
sqs = boto3.client("sqs")
table = boto3.resource("dynamodb").Table(os.environ["STUDENTS_TABLE"])
BUCKET = os.environ["MEDIA_BUCKET"]
QUEUE_URL = os.environ["RESULTS_QUEUE_URL"]
NAME = "president_trump"


def lambda_handler(event: dict, context: object) -> dict:
    """Send one result per frame, per docs/contracts.md, always naming the same person."""
    for record in event["Records"]:
        frame_key = unquote_plus(record["s3"]["object"]["key"])
        meta = s3.head_object(Bucket=BUCKET, Key=frame_key)["Metadata"]
        item = table.get_item(Key={"name": NAME})["Item"]
        body = {
            "schema": 1,
            "device_id": meta["device-id"],
            "clip_key": meta["clip-key"],
            "frame_key": frame_key,
            "frame_index": int(meta["frame-index"]),
            "face_index": 0,
            "status": "recognized",
            "name": NAME,
            "confidence": 0.99,
            "box": [10, 60, 60, 10],
            "student": {"name": item["name"], "major": item["major"], "year": item["year"]},
            "reason": None,
            "model_version": "stand-in",
            "captured_at": meta["captured-at"],
            "uploaded_at": meta["uploaded-at"],
            "classified_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "timings_ms": {"total": 1.0},
        }
        sqs.send_message(
            QueueUrl=QUEUE_URL,
            MessageBody=json.dumps(body),
            MessageGroupId=meta["device-id"],
            MessageDeduplicationId=hashlib.sha256(f"{frame_key}#0".encode()).hexdigest(),
        )
    return {"results": len(event["Records"])}
