"""SNS (a snapshot was uploaded) -> a ring for the door's chime on the FIFO queue, then the visit in the visits table.
Standard SNS topics cannot deliver to FIFO queues, so the ring is sent from here; a recorded visit has been rung."""

import json
import os
from urllib.parse import unquote_plus

import boto3

_visits = boto3.resource("dynamodb").Table(os.environ["VISITS_TABLE"])
_sqs = boto3.client("sqs")


def lambda_handler(event, context):
    for record in event["Records"]:
        s3_event = json.loads(record["Sns"]["Message"])
        for s3_record in s3_event.get("Records", []):  # S3's s3:TestEvent, sent when notifications are set, has none
            _record_visit(unquote_plus(s3_record["s3"]["object"]["key"]), record["Sns"]["Timestamp"])


def _record_visit(snapshot: str, seen_at: str) -> None:
    door = snapshot.split("/")[1]  # snapshots/<door>/<time>.jpg
    ring = _sqs.send_message(QueueUrl=os.environ["CHIME_QUEUE_URL"],
                             MessageBody=json.dumps({"door": door, "snapshot": snapshot}),
                             MessageGroupId=door, MessageDeduplicationId=snapshot)
    _visits.put_item(Item={"door": door, "snapshot": snapshot, "seen_at": seen_at,
                           "chime_sequence": ring["SequenceNumber"]})
