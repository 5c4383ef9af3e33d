"""GET /visits/<door> (REST API proxy event 1.0, or function URL event 2.0) -> the door's snapshots, oldest first,
with the version that answered."""

import json
import os

import boto3
from boto3.dynamodb.conditions import Key

_visits = boto3.resource("dynamodb").Table(os.environ["VISITS_TABLE"])


def lambda_handler(event, context):
    path = event.get("path") or event.get("rawPath") or "/"
    parts = path.strip("/").split("/")
    if len(parts) != 2 or parts[0] != "visits":
        return _answer(404, {"message": f"no such page: {path}; try /visits/<door>"})
    door = parts[1]
    items = _visits.query(KeyConditionExpression=Key("door").eq(door))["Items"]
    return _answer(200, {"door": door, "visits": [item["snapshot"] for item in items],
                         "version": context.function_version, "release": os.environ["RELEASE"]})


def _answer(status: int, body: dict) -> dict:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}
