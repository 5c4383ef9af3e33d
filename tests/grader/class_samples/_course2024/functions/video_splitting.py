"""Stand-in `video-splitting` (the course's 2024 part 1): the "frame" of test_N.mp4 is test_N.jpg in the stage-1
bucket (here: the video's fingerprint), then `face-recognition` is invoked asynchronously, as the course asks."""

import hashlib
import json
import os
from urllib.parse import unquote_plus

import boto3

s3 = boto3.client("s3")
lambda_client = boto3.client("lambda")
STAGE_BUCKET = os.environ["STAGE_BUCKET"]
RECOGNITION_ARN = os.environ["FACE_RECOGNITION_ARN"]


def lambda_handler(event: dict, context: object) -> dict:
    for record in event["Records"]:
        bucket, key = record["s3"]["bucket"]["name"], unquote_plus(record["s3"]["object"]["key"])
        video = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        frame_key = key.rsplit(".", 1)[0] + ".jpg"
        s3.put_object(Bucket=STAGE_BUCKET, Key=frame_key, Body=hashlib.sha256(video).hexdigest()[:16].encode())
        payload = {"bucket_name": STAGE_BUCKET, "image_file_name": frame_key}
        lambda_client.invoke(FunctionName=RECOGNITION_ARN, InvocationType="Event", Payload=json.dumps(payload))
    return {"frames": len(event["Records"])}
