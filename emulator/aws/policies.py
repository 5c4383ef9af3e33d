"""The resource policy of a Lambda function, SQS queue, SNS topic or S3 bucket, found by its ARN in moto's backends
(an S3 bucket as `arn:aws:s3::ACCOUNT:BUCKET`: bucket ARNs name no account)."""

from __future__ import annotations

from typing import Any

from moto.awslambda.models import lambda_backends
from moto.core.exceptions import JsonRESTError
from moto.s3.exceptions import MissingBucket
from moto.s3.models import s3_backends
from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends


def resource_policy(arn: str) -> dict[str, Any] | str | None:
    """The policy document (parsed or JSON text) attached to the resource, None when it has none or is not there."""
    parts = arn.split(":")
    if len(parts) < 6:
        return None
    service, region, account = parts[2], parts[3], parts[4]
    if service == "lambda":
        return _function_policy(account, region, parts[6] if len(parts) > 6 else "")
    if service == "sqs":
        queue = next((q for q in sqs_backends[account][region].queues.values() if q.queue_arn == arn), None)
        return None if queue is None else queue.policy
    if service == "s3":
        return _bucket_policy(account, parts[5])
    if service == "sns":
        topic = sns_backends[account][region].topics.get(arn)
        return None if topic is None else topic.policy
    return None


def _function_policy(account: str, region: str, name: str) -> dict[str, Any] | None:
    try:
        function = lambda_backends[account][region].get_function(name)
        return dict(function.policy.get_policy()["Policy"])
    except JsonRESTError:
        return None  # no such function, or no statement yet: nothing allows anyone


def _bucket_policy(account: str, bucket: str) -> str | None:
    try:
        policy = s3_backends[account]["aws"].get_bucket(bucket).policy
    except MissingBucket:
        return None
    return None if policy is None else policy.decode()
