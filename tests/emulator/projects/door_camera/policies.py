"""The door camera's least-privilege policies: one inline policy per function role, the state machine's, and the
topic policy S3 needs (https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html)."""

from __future__ import annotations

from typing import Any

LAMBDA_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
STATES_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def _document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _allow(actions: list[str], *resources: str) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": list(resources)}


def function_policy(function: str, names: dict[str, str], arns: dict[str, str]) -> dict[str, Any]:
    """What `function` (recorder, chime, counter, report, steps, visitors) may do, besides writing its own logs.
    `names`: the resources' names (function names under `fn:<function>`); `arns`: their ARNs."""
    region, account = arns["region"], arns["account"]
    logs = _allow(["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                  f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{names['fn:' + function]}:*")
    own = {
        "recorder": [_allow(["dynamodb:PutItem"], arns["visits_table"]),
                     _allow(["sqs:SendMessage"], arns["chime_queue"])],
        "chime": [_allow(["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], arns["chime_queue"]),
                  _allow(["dynamodb:UpdateItem"], arns["counters_table"])],
        "counter": [_allow(["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                            "dynamodb:ListStreams"], f"{arns['visits_table']}/stream/*"),
                    _allow(["dynamodb:UpdateItem"], arns["counters_table"])],
        "report": [_allow(["dynamodb:Scan"], arns["counters_table"]),
                   _allow(["states:StartExecution"], arns["report_machine"])],
        "steps": [],
        "visitors": [_allow(["dynamodb:Query"], arns["visits_table"])],
    }
    return _document(logs, *own[function])


def state_machine_policy(steps_function_arn: str) -> dict[str, Any]:
    """The report state machine invokes the steps function (any version) and nothing else."""
    return _document(_allow(["lambda:InvokeFunction"], steps_function_arn, f"{steps_function_arn}:*"))


def topic_policy(topic_arn: str, bucket: str, account: str) -> dict[str, Any]:
    """S3 may publish to the topic for this bucket of this account only."""
    return _document({"Sid": "snapshot-bucket", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                      "Action": "SNS:Publish", "Resource": topic_arn,
                      "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"},
                                    "StringEquals": {"aws:SourceAccount": account}}})
