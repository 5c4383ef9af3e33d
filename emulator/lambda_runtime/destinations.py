"""Where an async invocation's outcome goes: AWS's invocation record to an OnSuccess/OnFailure destination,
the bare event to a dead-letter queue.

Destinations may be SQS queues, SNS topics, Lambda functions or EventBridge buses, as on AWS; a DLQ may be an
SQS queue or an SNS topic. The record has AWS's shape (`version`, `timestamp`, `requestContext`,
`requestPayload`, `responseContext`, `responsePayload`), see
https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from contract.aws import DLQ_INVOKE_COUNT, DLQ_REQUEST_ID, dead_letter_attributes
from emulator.lambda_runtime.errors import EmulatorError

SUCCESS = "Success"
RETRIES_EXHAUSTED = "RetriesExhausted"
EVENT_AGE_EXCEEDED = "EventAgeExceeded"
# A dead letter's ErrorCode is "the 3-digit HTTP status code" of the last attempt (a Number attribute):
# https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html#invocation-dlq
FUNCTION_ERROR_STATUS, THROTTLED_STATUS = 200, 429
AWS_MAX_RETRY_ATTEMPTS = 2
_EVENT_DETAIL_TYPES = {True: "Lambda Function Invocation Result - Success",
                       False: "Lambda Function Invocation Result - Failure"}


@dataclass(frozen=True)
class AsyncConfig:
    """A function's asynchronous invocation settings (PutFunctionEventInvokeConfig and DeadLetterConfig)."""

    function_arn: str
    max_retries: int = AWS_MAX_RETRY_ATTEMPTS
    max_event_age_seconds: float | None = None  # None: the emulator's default
    on_success: str | None = None
    on_failure: str | None = None
    dead_letter_arn: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What one async event came to: the condition, how often it ran, and the last run's payload or error."""

    condition: str
    invoke_count: int
    payload: bytes | None = None
    error: dict[str, Any] | None = None

    @property
    def succeeded(self) -> bool:
        return self.condition == SUCCESS


def invocation_record(function_arn: str, request_id: str, event: bytes, outcome: Outcome) -> dict[str, Any]:
    """AWS's invocation record; an event that never ran (it aged out while throttled) has no response part."""
    parts = function_arn.split(":")
    version = parts[7] if len(parts) > 7 else "$LATEST"
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "requestContext": {"requestId": request_id, "functionArn": ":".join([*parts[:7], version]),
                           "condition": outcome.condition, "approximateInvokeCount": outcome.invoke_count},
        "requestPayload": _json_or_text(event),
    }
    if outcome.invoke_count:
        context: dict[str, Any] = {"statusCode": 200, "executedVersion": version}
        if outcome.error is not None:
            context["functionError"] = "Unhandled"
        record["responseContext"] = context
        record["responsePayload"] = outcome.error if outcome.error is not None else _json_or_text(outcome.payload)
    return record


def _json_or_text(data: bytes | None) -> Any:
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return data.decode("utf-8", "replace")


class Destinations:
    """Sends invocation records and dead letters with the emulator's own clients."""

    def __init__(self, client: Callable[[str], Any], invoke_async: Callable[[str, bytes], object]) -> None:
        self._sqs = client("sqs")
        self._sns = client("sns")
        self._events = client("events")
        self._invoke_async = invoke_async

    def send_record(self, destination: str, record: dict[str, Any], succeeded: bool) -> None:
        """One invocation record to a queue, topic, function or event bus (raises on a delivery failure)."""
        body = json.dumps(record)
        service = _service(destination)
        if service == "sqs":
            self._sqs.send_message(QueueUrl=self._queue_url(destination), MessageBody=body)
        elif service == "sns":
            self._sns.publish(TopicArn=destination, Message=body)
        elif service == "lambda":
            self._invoke_async(destination, body.encode())
        elif service == "events":
            self._events.put_events(Entries=[{
                "Source": "lambda", "DetailType": _EVENT_DETAIL_TYPES[succeeded], "Detail": body,
                "EventBusName": destination, "Resources": [record["requestContext"]["functionArn"]]}])
        else:
            raise EmulatorError(f"{destination} is not a destination Lambda supports (SQS, SNS, Lambda, EventBridge)")

    def send_dead_letter(self, target: str, function_name: str, request_id: str, event: bytes,
                         outcome: Outcome) -> None:
        """The bare event with AWS's DLQ attributes to an SQS queue or SNS topic (raises on a delivery failure)."""
        error = outcome.error or {}
        attributes = {
            DLQ_REQUEST_ID: {"DataType": "String", "StringValue": request_id},
            **dead_letter_attributes(dead_letter_status(outcome), str(error.get("errorMessage", "")), function_name),
            DLQ_INVOKE_COUNT: {"DataType": "Number", "StringValue": str(outcome.invoke_count)},
        }
        body = event.decode("utf-8", "replace")
        service = _service(target)
        if service == "sqs":
            self._sqs.send_message(QueueUrl=self._queue_url(target), MessageBody=body, MessageAttributes=attributes)
        elif service == "sns":
            self._sns.publish(TopicArn=target, Message=body, MessageAttributes=attributes)
        else:
            raise EmulatorError(f"dead-letter target {target} is neither an SQS queue nor an SNS topic")

    def _queue_url(self, arn: str) -> str:
        parts = arn.split(":")
        return self._sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]


def _service(arn: str) -> str:
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn":
        raise EmulatorError(f"{arn!r} is not an ARN")
    return parts[2]


def dead_letter_status(outcome: Outcome) -> int:
    """The HTTP status of the last attempt: 200 when the function ran and failed, 429 when it was never let run."""
    return FUNCTION_ERROR_STATUS if outcome.invoke_count else THROTTLED_STATUS

