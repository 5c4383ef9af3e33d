"""The permissions a run's functions lacked: the emulator's `IAM:` warnings (EMULATOR_IAM=warn) in their log groups.

On AWS these calls would have been refused; the report lists them so a student fixes the role before deploying.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from contract import Endpoint
from contract.lambda_logs import IAM_WARNING_PREFIX, iam_denials

LINES_KEPT = 20


def missing_permissions(endpoint: Endpoint, functions: tuple[str, ...]) -> list[str]:
    """Distinct `IAM:` lines of the functions' log groups, first ones first (at most LINES_KEPT)."""
    logs, lines = endpoint.client("logs"), []
    for function in functions:
        try:
            pages = logs.get_paginator("filter_log_events").paginate(
                logGroupName=f"/aws/lambda/{function}", filterPattern=f'"{IAM_WARNING_PREFIX.strip()}"')
            lines += [event["message"] for page in pages for event in page.get("events", [])]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
    return list(iam_denials(lines))[:LINES_KEPT]
