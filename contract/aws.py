"""How every part talks to AWS (or an emulator): client settings, stack outputs, clip uploads, queue polling."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from contract.errors import StackOutputsError
from contract.keys import clip_key, clip_metadata

if TYPE_CHECKING:
    import boto3

logger = logging.getLogger(__name__)

ENV_STACK_NAME = "STACK_NAME"
DEFAULT_STACK_NAME = "facepipe"
DEFAULT_REGION = "us-east-1"  # where a stack goes when neither the environment nor a profile names a region
ENV_VIDEOS_BUCKET = "VIDEOS_BUCKET"
ENV_RESULTS_QUEUE_URL = "RESULTS_QUEUE_URL"
# A dead letter's SQS message attributes. AWS's are RequestID, ErrorCode and ErrorMessage "truncated to 1 KB"
# (AWS Lambda Developer Guide, "Dead-letter queues": https://docs.aws.amazon.com/lambda/latest/dg/dlq.html);
# FunctionName and ApproximateInvokeCount are ours, for whoever reads the queue.
DLQ_REQUEST_ID = "RequestID"
DLQ_ERROR_CODE = "ErrorCode"
DLQ_ERROR_MESSAGE = "ErrorMessage"
DLQ_FUNCTION_NAME = "FunctionName"
DLQ_INVOKE_COUNT = "ApproximateInvokeCount"
DLQ_MESSAGE_LIMIT = 1024
OUTPUT_VIDEOS_BUCKET = "VideosBucket"
OUTPUT_FRAMES_BUCKET = "FramesBucket"
OUTPUT_MODELS_BUCKET = "ModelsBucket"
OUTPUT_RESULTS_QUEUE_URL = "ResultsQueueUrl"
OUTPUT_DEAD_LETTER_QUEUE_URL = "DeadLetterQueueUrl"
OUTPUT_STUDENTS_TABLE = "StudentsTable"
OUTPUT_FRAME_EXTRACTOR = "FrameExtractorFunction"
OUTPUT_FACE_CLASSIFIER = "FaceClassifierFunction"
STACK_OUTPUTS = (
    OUTPUT_VIDEOS_BUCKET, OUTPUT_FRAMES_BUCKET, OUTPUT_MODELS_BUCKET, OUTPUT_RESULTS_QUEUE_URL,
    OUTPUT_DEAD_LETTER_QUEUE_URL, OUTPUT_STUDENTS_TABLE, OUTPUT_FRAME_EXTRACTOR, OUTPUT_FACE_CLASSIFIER,
)
CLIP_CONTENT_TYPE = "video/mp4"
POLL_RETRY_INITIAL = 0.5
POLL_RETRY_MAX = 10.0


def client_config(
    max_attempts: int = 4, connect_timeout: float = 5, read_timeout: float = 20, max_pool_connections: int = 10
) -> Config:
    """botocore settings: transient failures retried by botocore (standard mode, backoff with jitter), not by hand.

    max_attempts counts the first call.
    """
    return Config(
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_pool_connections=max_pool_connections,
    )


CLIENT_CONFIG = client_config()


@dataclass(frozen=True)
class Endpoint:
    """Clients of one explicit boto3 session at one endpoint URL (None: AWS, or $AWS_ENDPOINT_URL)."""

    session: boto3.Session
    url: str | None = None

    def client(self, service: str, config: Config = CLIENT_CONFIG) -> Any:
        """A client of `service` with the contract's retry and timeout settings unless told otherwise."""
        return self.session.client(service, endpoint_url=self.url, config=config)


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    """The Outputs of a CloudFormation stack as {OutputKey: OutputValue}; StackOutputsError if unreadable."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except (BotoCoreError, ClientError) as exc:
        raise StackOutputsError(f"cannot read stack {stack_name!r}: {exc}") from exc
    return {out["OutputKey"]: out["OutputValue"] for out in stacks[0].get("Outputs", [])}


def put_clip(
    s3: Any, bucket: str, device_id: str, captured_at: str, body: bytes, uploaded_at: str | None = None
) -> str:
    """PUT a clip under its contract key with its metadata (uploaded_at: now); returns the key."""
    key = clip_key(device_id, captured_at)
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=CLIP_CONTENT_TYPE,
                  Metadata=clip_metadata(device_id, captured_at, uploaded_at))
    return key


def poll_until_stopped(
    poll_once: Callable[[], object],
    stop: threading.Event,
    queue_url: str,
    initial: float = POLL_RETRY_INITIAL,
    maximum: float = POLL_RETRY_MAX,
) -> None:
    """Call poll_once until stop is set; an AWS error is logged and retried after a delay doubling up to maximum."""
    delay = initial
    while not stop.is_set():
        try:
            poll_once()
        except (BotoCoreError, ClientError) as exc:
            logger.warning("receive from %s failed: %s; retry in %.1f s", queue_url, exc, delay)
            stop.wait(delay)
            delay = min(delay * 2, maximum)
            continue
        delay = initial


def release_messages(sqs: Any, queue_url: str, messages: Sequence[dict[str, Any]]) -> None:
    """Make received but unhandled messages (at most 10) visible at once, not after their visibility timeout.

    A consumer that stops hands back what its last polls brought, so the next consumer gets it in its first poll.
    """
    if not messages:
        return
    entries = [
        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0} for i, m in enumerate(messages)
    ]
    try:
        failed = sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries).get("Failed", [])
    except (BotoCoreError, ClientError) as exc:
        logger.warning("could not hand back %d message(s) to %s (%s): they return after the visibility timeout",
                       len(entries), queue_url, exc)
        return
    for failure in failed:
        logger.warning("could not hand back a message to %s (%s): it returns after the visibility timeout",
                       queue_url, failure)


def join_pollers(threads: Sequence[threading.Thread], timeout: float, queue_url: str) -> int:
    """Wait up to `timeout` seconds in all for polling threads to end; returns how many are still in a poll.

    A poll left open when its process exits is not cancelled: SQS hands it the next message, which then stays
    invisible for the visibility timeout. So a consumer waits for its open long polls before it exits.
    """
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    still_open = sum(thread.is_alive() for thread in threads)
    if still_open:
        logger.warning("%d poll(s) of %s still open after %.0f s: the next message may be delayed by its visibility "
                       "timeout", still_open, queue_url, timeout)
    return still_open


def dead_letter_attributes(error_code: str | int, error_message: str, function_name: str
                           ) -> dict[str, dict[str, str]]:
    """The MessageAttributes of a dead letter: the error's code (a Number when it is an HTTP status, as Lambda's
    own are), its message cut to 1 KB, the function that failed."""
    return {
        DLQ_ERROR_CODE: {"DataType": "Number" if isinstance(error_code, int) else "String",
                         "StringValue": str(error_code)},
        DLQ_ERROR_MESSAGE: {"DataType": "String", "StringValue": error_message[:DLQ_MESSAGE_LIMIT]},
        DLQ_FUNCTION_NAME: {"DataType": "String", "StringValue": function_name},
    }
