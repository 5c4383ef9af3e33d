"""The daily schedule (EventBridge) -> every door's visit count handed to the report state machine."""

import json
import os

import boto3

_counters = boto3.resource("dynamodb").Table(os.environ["COUNTERS_TABLE"])
_sfn = boto3.client("stepfunctions")


def lambda_handler(event, context):
    counts = {item["door"]: int(item.get("visits", 0)) for item in _scan_all()}
    execution = _sfn.start_execution(stateMachineArn=os.environ["REPORT_MACHINE_ARN"],
                                     input=json.dumps({"counts": counts, "scheduled_at": event["time"]}))
    return {"executionArn": execution["executionArn"], "counts": counts}


def _scan_all() -> list:
    page = _counters.scan()
    items = page["Items"]
    while "LastEvaluatedKey" in page:
        page = _counters.scan(ExclusiveStartKey=page["LastEvaluatedKey"])
        items += page["Items"]
    return items
