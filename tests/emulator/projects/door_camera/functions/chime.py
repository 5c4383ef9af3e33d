"""FIFO chime queue -> the door's chime log in the counters table, in queue order. A blurry snapshot fails its first
try (the camera was still focusing). For a FIFO queue the failed message and every one after it are reported, so
that the group's order holds (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html)."""

import json
import os

import boto3

_counters = boto3.resource("dynamodb").Table(os.environ["COUNTERS_TABLE"])


def lambda_handler(event, context):
    records = event["Records"]
    print("batch:", [(json.loads(r["body"])["snapshot"], r["attributes"]["ApproximateReceiveCount"]) for r in records])
    for index, record in enumerate(records):
        ring = json.loads(record["body"])
        if "blurry" in ring["snapshot"] and record["attributes"]["ApproximateReceiveCount"] == "1":
            return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records[index:]]}
        _chime(ring, record, len(records))
    return {"batchItemFailures": []}


def _chime(ring: dict, record: dict, batch_size: int) -> None:
    entry = {"snapshot": ring["snapshot"], "sequence": record["attributes"]["SequenceNumber"],
             "receives": int(record["attributes"]["ApproximateReceiveCount"]), "batch": batch_size}
    _counters.update_item(Key={"door": ring["door"]},
                          UpdateExpression="SET chimes = list_append(if_not_exists(chimes, :none), :entry)",
                          ExpressionAttributeValues={":none": [], ":entry": [entry]})
