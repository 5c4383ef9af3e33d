"""Stand-in frame extractor: for each uploaded clip, one fake PNG frame carrying the clip's metadata."""

import os
from datetime import UTC, datetime
from urllib.parse import unquote_plus

import boto3

s3 = boto3.client("s3")
BUCKET = os.environ["MEDIA_BUCKET"]
FAKE_PNG = b"\x89PNG\r\n\x1a\n stand-in frame"


def lambda_handler(event: dict, context: object) -> dict:
    """Write frames/<device>/<stamp>/0000.png for every videos/ record of the S3 event."""
    for record in event["Records"]:
        key = unquote_plus(record["s3"]["object"]["key"])
        _, device_id, name = key.split("/")
        metadata = s3.head_object(Bucket=BUCKET, Key=key)["Metadata"]
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        s3.put_object(
            Bucket=BUCKET,
            Key=f"frames/{device_id}/{name.removesuffix('.mp4')}/0000.png",
            Body=FAKE_PNG,
            Metadata={**metadata, "clip-key": key, "frame-index": "0", "extracted-at": now},
        )
    return {"frames": len(event["Records"])}
