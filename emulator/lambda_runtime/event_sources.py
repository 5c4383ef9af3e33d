"""Event source mappings as Lambda runs them: SQS here, DynamoDB Streams and Kinesis in stream_sources.py.

SQS mappings: pollers that read the queue through the SQS API, in batches.

What AWS documents (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html and
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html), and what the pollers do:
- the sender's SendMessage returns at once; pollers long-poll the queue, five batches at a time at first
  ("Lambda starts processing five batches at a time with five concurrent invocations"), capped by
  `ScalingConfig.MaximumConcurrency` when it is set;
- a batch holds up to `BatchSize` messages, gathered for up to `MaximumBatchingWindowInSeconds` (0: what one
  receive returns); the function is invoked synchronously with AWS's record shape;
- success: the batch's messages are deleted; a function error: none is deleted, and each comes back after the
  queue's visibility timeout, so the queue's redrive policy moves it to its DLQ after `maxReceiveCount` receives;
- `ReportBatchItemFailures`: only the messages named in `batchItemFailures` stay; a response naming an id that
  is not in the batch, or an empty/null id, fails the whole batch;
- FIFO queues keep their order per message group because SQS hands out no further message of a group while one
  is in flight.
Mappings of every account are read every SYNC_SECONDS (in ListEventSourceMappings' shape, from the Lambda service's
store): creating, updating, disabling or deleting one takes effect within that time. A poller talks to SQS as its
function's account, as Lambda polls with the function's role.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from emulator.lambda_runtime.errors import EmulatorError
from emulator.lambda_runtime.stream_sources import (
    STREAM_SERVICES,
    SendRecord,
    StreamMapping,
    StreamPoller,
    StreamReader,
    StreamServices,
)

logger = logging.getLogger(__name__)

SYNC_SECONDS = 1.0
RECEIVE_WAIT_SECONDS = 2  # a long poll short enough that a disabled mapping stops within seconds
DEFAULT_CONCURRENCY = 5
RECEIVE_LIMIT = 10  # SQS's MaxNumberOfMessages
ERROR_BACKOFF_SECONDS = 1.0
REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"


class Invocation(Protocol):
    payload: bytes | None
    error: dict[str, Any] | None


Invoke = Callable[[str, bytes], Invocation]
ListMappings = Callable[[], list[dict[str, Any]]]
Clients = Callable[[str, str, str], Any]  # (service, account, region) -> a boto3 client signed as that account


@dataclass(frozen=True)
class SqsMapping:
    """One enabled SQS event source mapping, as ListEventSourceMappings describes it."""

    uuid: str
    function_arn: str
    queue_arn: str
    batch_size: int
    window_seconds: float
    report_item_failures: bool
    concurrency: int

    @classmethod
    def from_api(cls, mapping: dict[str, Any]) -> SqsMapping:
        scaling = mapping.get("ScalingConfig") or {}
        return cls(
            uuid=mapping["UUID"],
            function_arn=mapping["FunctionArn"],
            queue_arn=mapping["EventSourceArn"],
            batch_size=int(mapping.get("BatchSize") or RECEIVE_LIMIT),
            window_seconds=float(mapping.get("MaximumBatchingWindowInSeconds") or 0),
            report_item_failures=REPORT_BATCH_ITEM_FAILURES in (mapping.get("FunctionResponseTypes") or []),
            concurrency=int(scaling.get("MaximumConcurrency") or DEFAULT_CONCURRENCY),
        )

    @property
    def region(self) -> str:
        return self.queue_arn.split(":")[3]

    @property
    def account(self) -> str:
        return self.queue_arn.split(":")[4]

    @property
    def queue_name(self) -> str:
        return self.queue_arn.split(":")[5]


def sqs_record(message: dict[str, Any], mapping: SqsMapping) -> dict[str, Any]:
    """One received message in the shape Lambda gives a function (the `Records` entries of an SQS event)."""
    attributes = {k: v for k, v in message.get("Attributes", {}).items() if k != "AWSTraceHeader"}
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": {name: _lambda_attribute(value)
                              for name, value in message.get("MessageAttributes", {}).items()},
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324
        "eventSource": "aws:sqs",
        "eventSourceARN": mapping.queue_arn,
        "awsRegion": mapping.region,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _lambda_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """SQS's MessageAttributeValue in Lambda's lower-camel shape."""
    shaped: dict[str, Any] = {"stringListValues": value.get("StringListValues", []),
                              "binaryListValues": value.get("BinaryListValues", []),
                              "dataType": value["DataType"]}
    if "StringValue" in value:
        shaped["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        shaped["binaryValue"] = value["BinaryValue"]
    return shaped


def failed_message_ids(payload: bytes | None, batch_ids: set[str]) -> set[str] | None:
    """The ids a ReportBatchItemFailures response names; None when the response fails the whole batch."""
    try:
        response = json.loads(payload or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return set()  # not a batch response: AWS reads it as success
    failures = response.get("batchItemFailures") if isinstance(response, dict) else None
    if not failures:
        return set()
    ids = {item.get("itemIdentifier") if isinstance(item, dict) else None for item in failures}
    if None in ids or "" in ids or not ids <= batch_ids:
        return None
    return {str(i) for i in ids}


class SqsPoller:
    """The poller threads of one mapping."""

    def __init__(self, mapping: SqsMapping, sqs: Any, invoke: Invoke) -> None:
        self.mapping = mapping
        self._sqs = sqs
        self._invoke = invoke
        self._stop = threading.Event()
        self._queue_url: str | None = None
        self._threads = [threading.Thread(target=self._poll_forever, name=f"esm-{mapping.uuid[:8]}-{i}", daemon=True)
                         for i in range(mapping.concurrency)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Asks the threads to stop; a batch being processed finishes, a long poll ends within its wait."""
        self._stop.set()

    def _poll_forever(self) -> None:
        while not self._stop.is_set():
            try:
                batch = self._gather()
                if batch and not self._stop.is_set():
                    self._process(batch)
                elif batch:
                    self._release(batch)
            except (BotoCoreError, ClientError) as exc:
                logger.warning("event source mapping %s: %s; retrying", self.mapping.uuid, exc)
                self._stop.wait(ERROR_BACKOFF_SECONDS)
            except Exception:  # e.g. a throttle: the batch returns after the visibility timeout, as on AWS
                logger.exception("event source mapping %s could not invoke %s; the batch returns after the "
                                 "visibility timeout", self.mapping.uuid, self.mapping.function_arn)
                self._stop.wait(ERROR_BACKOFF_SECONDS)

    def _url(self) -> str:
        if self._queue_url is None:
            self._queue_url = self._sqs.get_queue_url(QueueName=self.mapping.queue_name,
                                                      QueueOwnerAWSAccountId=self.mapping.account)["QueueUrl"]
        return self._queue_url

    def _gather(self) -> list[dict[str, Any]]:
        """Up to BatchSize messages, received until the batch is full or the batching window has passed."""
        mapping, batch = self.mapping, []
        deadline = time.monotonic() + mapping.window_seconds
        while len(batch) < mapping.batch_size and not self._stop.is_set():
            remaining = deadline - time.monotonic()
            wait = RECEIVE_WAIT_SECONDS if not batch else max(0, min(RECEIVE_WAIT_SECONDS, int(remaining)))
            received = self._sqs.receive_message(
                QueueUrl=self._url(), MaxNumberOfMessages=min(RECEIVE_LIMIT, mapping.batch_size - len(batch)),
                WaitTimeSeconds=wait, AttributeNames=["All"], MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"]).get("Messages", [])
            batch.extend(received)
            if batch and time.monotonic() >= deadline:
                break
        return batch

    def _process(self, batch: list[dict[str, Any]]) -> None:
        event = {"Records": [sqs_record(message, self.mapping) for message in batch]}
        result = self._invoke(self.mapping.function_arn, json.dumps(event).encode())
        if result.error is not None:
            logger.info("%s failed a batch of %d from %s: the messages return after the visibility timeout",
                        self.mapping.function_arn, len(batch), self.mapping.queue_name)
            return
        keep: set[str] | None = set()
        if self.mapping.report_item_failures:
            keep = failed_message_ids(result.payload, {m["MessageId"] for m in batch})
        if keep is None:
            logger.info("%s answered batchItemFailures naming ids not in its batch: the whole batch failed",
                        self.mapping.function_arn)
            return
        self._delete([m for m in batch if m["MessageId"] not in keep])

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), RECEIVE_LIMIT):
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                       for i, m in enumerate(messages[start:start + RECEIVE_LIMIT])]
            response = self._sqs.delete_message_batch(QueueUrl=self._url(), Entries=entries)
            for failure in response.get("Failed", []):
                logger.warning("event source mapping %s could not delete a message: %s", self.mapping.uuid, failure)

    def _release(self, messages: list[dict[str, Any]]) -> None:
        """Messages received as the mapping stopped go back to the queue at once."""
        for message in messages:
            self._sqs.change_message_visibility(QueueUrl=self._url(), ReceiptHandle=message["ReceiptHandle"],
                                                VisibilityTimeout=0)


class EventSourceMappings:
    """Keeps one poller per enabled mapping (SQS; DynamoDB Streams and Kinesis when given a stream reader), in step
    with every account's mappings."""

    def __init__(self, list_mappings: ListMappings, clients: Clients, invoke: Invoke,
                 streams: StreamReader | None = None, send_record: SendRecord | None = None) -> None:
        self._list_mappings = list_mappings
        self._clients = clients
        self._invoke = invoke
        self._streams = None if streams is None else StreamServices(
            streams, invoke, send_record or _no_destination, self._function_role)
        self._pollers: dict[str, SqsPoller | StreamPoller] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sync_forever, name="event-source-mappings", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=SYNC_SECONDS * 5)
        for poller in self._pollers.values():
            poller.stop()
        self._pollers.clear()

    def sync(self) -> None:
        """Starts pollers for new or changed mappings and stops those of removed or disabled ones."""
        wanted = {m.uuid: m for m in self._enabled_mappings()}
        for uuid, poller in list(self._pollers.items()):
            if wanted.get(uuid) != poller.mapping:
                poller.stop()
                del self._pollers[uuid]
        for uuid, mapping in wanted.items():
            if uuid not in self._pollers:
                self._pollers[uuid] = self._poller(mapping)
                self._pollers[uuid].start()
                logger.info("event source mapping %s polled: %s", uuid, mapping)

    def _poller(self, mapping: SqsMapping | StreamMapping) -> SqsPoller | StreamPoller:
        if isinstance(mapping, SqsMapping):
            return SqsPoller(mapping, self._function_client("sqs", mapping.function_arn), self._invoke)
        assert self._streams is not None
        return StreamPoller(mapping, self._streams)

    def _enabled_mappings(self) -> list[SqsMapping | StreamMapping]:
        mappings: list[SqsMapping | StreamMapping] = []
        for mapping in self._list_mappings():
            if mapping.get("State") != "Enabled":
                continue
            service = mapping["EventSourceArn"].split(":")[2]
            if service == "sqs":
                mappings.append(SqsMapping.from_api(mapping))
            elif service in STREAM_SERVICES and self._streams is not None:
                mappings.append(StreamMapping.from_api(mapping))
        return mappings

    def _function_client(self, service: str, function_arn: str) -> Any:
        """A client of `service` signed as the function's account, in its region."""
        _, _, _, region, account, *_ = function_arn.split(":")
        return self._clients(service, account, region)

    def _function_role(self, function_arn: str) -> str:
        return str(self._function_client("lambda", function_arn).get_function_configuration(
            FunctionName=function_arn)["Role"])

    def _sync_forever(self) -> None:
        while not self._stop.wait(SYNC_SECONDS):
            try:
                self.sync()
            except (BotoCoreError, ClientError) as exc:
                logger.warning("event source mappings could not be synced: %s", exc)


def _no_destination(destination: str, record: dict[str, Any], succeeded: bool) -> None:
    raise EmulatorError(f"no destination sender: the record for {destination} is dropped")
