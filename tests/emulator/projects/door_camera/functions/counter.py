"""The visits table's stream -> one more visit on the door's counter for each new visit."""

import os

import boto3

_counters = boto3.resource("dynamodb").Table(os.environ["COUNTERS_TABLE"])


def lambda_handler(event, context):
    for record in event["Records"]:
        if record["eventName"] == "INSERT":
            door = record["dynamodb"]["Keys"]["door"]["S"]
            _counters.update_item(Key={"door": door}, UpdateExpression="ADD visits :one",
                                  ExpressionAttributeValues={":one": 1})
