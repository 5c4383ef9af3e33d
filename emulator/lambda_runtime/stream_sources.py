"""DynamoDB Streams and Kinesis event source mappings as Lambda runs them: a poller per mapping reads each shard in
order and invokes the function synchronously with a batch of records.

What AWS documents, and what the pollers do:
- the writer's PutItem/PutRecord returns at once; Lambda "polls shards in your DynamoDB stream for records at a base
  rate of 4 times per second" and invokes the function with the batch it read
  (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html, https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html);
- a batch holds up to `BatchSize` records of one shard, gathered for up to `MaximumBatchingWindowInSeconds`; the
  starting position (TRIM_HORIZON, LATEST, Kinesis's AT_TIMESTAMP) applies once, when the mapping is created; after
  that each shard resumes from its checkpoint, also after a disable/enable or an update
  (https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-params.html);
- Lambda "checkpoints to the highest sequence number of a batch only when the batch is a complete success"; with
  `ReportBatchItemFailures` it checkpoints before the lowest sequence number the function names and retries from
  there; an empty or null identifier, or one not in the batch, fails the whole batch
  (https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html);
- a failed batch is retried, in order, until `MaximumRetryAttempts` (-1: until the record expires) or
  `MaximumRecordAgeInSeconds` (-1: never) discards it; `BisectBatchOnFunctionError` splits a failed batch in two
  without using a retry; a discarded batch's metadata goes to `DestinationConfig.OnFailure` (SQS or SNS) as AWS's
  failure record (https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html,
  https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html);
- an invoke that never ran (throttled, or the emulator failed) is retried until the records age out, without
  counting as a retry ("Before invocation" on the same pages).
The shards come from a `StreamReader` (emulator/aws/streams.py reads moto's); the checkpoints are kept there too.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from emulator.lambda_runtime.errors import EmulatorError

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.25  # "at a base rate of 4 times per second"
RETRY_BACKOFF_SECONDS = 0.5
DEFAULT_BATCH_SIZE = 100
REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"
RETRY_ATTEMPTS_EXHAUSTED = "RetryAttemptsExhausted"
RECORD_AGE_EXCEEDED = "RecordAgeExceeded"
STREAM_SERVICES = ("dynamodb", "kinesis")


class StreamNotFoundError(EmulatorError):
    """No current DynamoDB or Kinesis stream has this ARN."""


@dataclass(frozen=True)
class StreamItem:
    """One record of a shard: its sequence number, when it arrived (epoch seconds) and its source's fields."""

    sequence: int
    arrival: float
    fields: dict[str, Any] = field(hash=False)


class StreamReader(Protocol):
    def shards(self, arn: str) -> list[str]: ...

    def read(self, arn: str, shard_id: str, after: int | None, limit: int) -> list[StreamItem]: ...

    def checkpoints(self, mapping_arn: str) -> dict[str, int]: ...

    def save_checkpoint(self, mapping_arn: str, shard_id: str, sequence: int) -> None: ...


class Invocation(Protocol):
    request_id: str
    payload: bytes | None
    error: dict[str, Any] | None


Invoke = Callable[[str, bytes], Invocation]
SendRecord = Callable[[str, dict[str, Any], bool], None]


@dataclass(frozen=True)
class StreamMapping:
    """One enabled DynamoDB Streams or Kinesis mapping, as ListEventSourceMappings describes it."""

    uuid: str
    arn: str
    function_arn: str
    source_arn: str
    batch_size: int
    window_seconds: float
    report_item_failures: bool
    max_retries: int | None  # None: until the record expires
    max_record_age_seconds: float | None  # None: no limit
    bisect: bool
    on_failure: str | None

    @classmethod
    def from_api(cls, mapping: dict[str, Any]) -> StreamMapping:
        retries, age = mapping.get("MaximumRetryAttempts", -1), mapping.get("MaximumRecordAgeInSeconds", -1)
        return cls(
            uuid=mapping["UUID"],
            arn=mapping["EventSourceMappingArn"],
            function_arn=mapping["FunctionArn"],
            source_arn=mapping["EventSourceArn"],
            batch_size=int(mapping.get("BatchSize") or DEFAULT_BATCH_SIZE),
            window_seconds=float(mapping.get("MaximumBatchingWindowInSeconds") or 0),
            report_item_failures=REPORT_BATCH_ITEM_FAILURES in (mapping.get("FunctionResponseTypes") or []),
            max_retries=None if retries in (None, -1) else int(retries),
            max_record_age_seconds=None if age in (None, -1) else float(age),
            bisect=bool(mapping.get("BisectBatchOnFunctionError")),
            on_failure=((mapping.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination") or None,
        )

    @property
    def service(self) -> str:
        return self.source_arn.split(":")[2]

    @property
    def region(self) -> str:
        return self.source_arn.split(":")[3]


def dynamodb_record(item: StreamItem, mapping: StreamMapping) -> dict[str, Any]:
    """A stream record in the shape Lambda gives a function (the `Records` entries of a DynamoDB event)."""
    dynamodb = {**item.fields["dynamodb"]}
    dynamodb["SizeBytes"] = sum(item_size(dynamodb.get(part) or {}) for part in ("Keys", "NewImage", "OldImage"))
    return {"eventID": item.fields["eventID"], "eventName": item.fields["eventName"], "eventVersion": "1.1",
            "eventSource": "aws:dynamodb", "awsRegion": mapping.region, "dynamodb": dynamodb,
            "eventSourceARN": mapping.source_arn}


def kinesis_record(item: StreamItem, mapping: StreamMapping, shard_id: str, role: str) -> dict[str, Any]:
    """A Kinesis record in the shape Lambda gives a function; `role`: the function's execution role."""
    sequence = str(item.sequence)
    return {"kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": item.fields["partitionKey"],
                        "sequenceNumber": sequence, "data": item.fields["data"],
                        "approximateArrivalTimestamp": round(item.arrival, 3)},
            "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": f"{shard_id}:{sequence}",
            "eventName": "aws:kinesis:record", "invokeIdentityArn": role, "awsRegion": mapping.region,
            "eventSourceARN": mapping.source_arn}


def item_size(attributes: dict[str, Any]) -> int:
    """Bytes of DynamoDB attributes as DynamoDB counts them: each name plus its value
    (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in attributes.items())


def _value_size(value: dict[str, Any]) -> int:
    kind, data = next(iter(value.items()))
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        return _number_size(data)
    if kind == "B":
        return _binary_size(data)
    if kind in ("SS", "NS", "BS"):
        return sum(_value_size({kind[0]: element}) for element in data)
    if kind == "L":
        return 3 + sum(1 + _value_size(element) for element in data)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + _value_size(element) for name, element in data.items())
    return 1  # BOOL, NULL


def _number_size(number: str) -> int:
    """"1 byte per two significant digits" plus 1; leading and trailing zeroes are trimmed."""
    digits = number.lstrip("-").replace(".", "").strip("0") or "0"
    return math.ceil(len(digits) / 2) + 1


def _binary_size(data: str | bytes) -> int:
    if isinstance(data, bytes):
        return len(data)
    try:
        return len(base64.b64decode(data, validate=True))
    except binascii.Error:
        return len(data.encode())


def first_failed_index(payload: bytes | None, sequences: list[str]) -> int | None:
    """Where a ReportBatchItemFailures response asks the batch to be retried from (0: all of it); None: it succeeded."""
    try:
        response = json.loads(payload or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None  # not a batch response: a success
    failures = response.get("batchItemFailures") if isinstance(response, dict) else None
    if not failures:
        return None
    named = [item.get("itemIdentifier") if isinstance(item, dict) else None for item in failures]
    if any(not isinstance(sequence, str) or sequence not in sequences for sequence in named):
        return 0
    return min(sequences.index(sequence) for sequence in named)


def failure_record(mapping: StreamMapping, shard_id: str, items: list[StreamItem], condition: str,
                   invoke_count: int, last: Invocation | None) -> dict[str, Any]:
    """AWS's record of a discarded batch for an OnFailure destination (its records are not in it)."""
    dynamodb = mapping.service == "dynamodb"
    record: dict[str, Any] = {
        "requestContext": {"requestId": last.request_id if last is not None else "",
                           "functionArn": mapping.function_arn, "condition": condition,
                           "approximateInvokeCount": invoke_count},
    }
    if last is not None:
        context: dict[str, Any] = {"statusCode": 200, "executedVersion": _executed_version(mapping.function_arn)}
        if last.error is not None:
            context["functionError"] = "Unhandled"
        record["responseContext"] = context
    record["version"] = "1.0"
    record["timestamp"] = _iso(time.time(), milliseconds=True)
    record["DDBStreamBatchInfo" if dynamodb else "KinesisBatchInfo"] = {
        "shardId": shard_id,
        "startSequenceNumber": str(items[0].sequence),
        "endSequenceNumber": str(items[-1].sequence),
        "approximateArrivalOfFirstRecord": _iso(items[0].arrival, milliseconds=not dynamodb),
        "approximateArrivalOfLastRecord": _iso(items[-1].arrival, milliseconds=not dynamodb),
        "batchSize": len(items),
        "streamArn": mapping.source_arn,
    }
    return record


def _executed_version(function_arn: str) -> str:
    parts = function_arn.split(":")
    return parts[7] if len(parts) > 7 else "$LATEST"


def _iso(epoch: float, milliseconds: bool) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.isoformat(timespec="milliseconds" if milliseconds else "seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class StreamServices:
    """What a stream poller reads, invokes and reports to."""

    reader: StreamReader
    invoke: Invoke
    send_record: SendRecord
    role_of: Callable[[str], str]  # a function's ARN -> its execution role (Kinesis records name it)


class StreamPoller:
    """The poller thread of one stream mapping: every shard in order, one batch at a time."""

    def __init__(self, mapping: StreamMapping, services: StreamServices) -> None:
        self.mapping = mapping
        self._services = services
        self._stop = threading.Event()
        self._positions: dict[str, int | None] = {}
        self._first_seen: dict[str, float] = {}
        self._role: str | None = None
        self._thread = threading.Thread(target=self._poll_forever, name=f"esm-{mapping.uuid[:8]}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Asks the thread to stop; a batch being invoked finishes and is checkpointed."""
        self._stop.set()

    def _poll_forever(self) -> None:
        reader, mapping = self._services.reader, self.mapping
        missing = False
        while not self._stop.wait(POLL_SECONDS):
            try:
                if not self._positions:
                    self._positions.update(reader.checkpoints(mapping.arn))
                for shard_id in reader.shards(mapping.source_arn):
                    self._poll_shard(shard_id)
                missing = False
            except StreamNotFoundError:
                if not missing:
                    logger.warning("event source mapping %s: stream %s is gone; polling stops until it is back",
                                   mapping.uuid, mapping.source_arn)
                missing = True
            except Exception:
                logger.exception("event source mapping %s could not read %s", mapping.uuid, mapping.source_arn)
                self._stop.wait(RETRY_BACKOFF_SECONDS)

    def _poll_shard(self, shard_id: str) -> None:
        mapping = self.mapping
        items = self._services.reader.read(mapping.source_arn, shard_id, self._positions.get(shard_id),
                                           mapping.batch_size)
        if not items:
            self._first_seen.pop(shard_id, None)
            return
        if len(items) < mapping.batch_size and mapping.window_seconds:
            first = self._first_seen.setdefault(shard_id, time.monotonic())
            if time.monotonic() - first < mapping.window_seconds:
                return
        self._first_seen.pop(shard_id, None)
        self._deliver(shard_id, items)

    def _deliver(self, shard_id: str, items: list[StreamItem]) -> None:
        """Every record of the batch is delivered or discarded, in order; a bisected half keeps the retries used."""
        mapping = self.mapping
        segments: list[tuple[list[StreamItem], int]] = [(items, 0)]
        while segments and not self._stop.is_set():
            batch, failures = segments.pop(0)
            batch = self._drop_aged(shard_id, batch, failures)
            if not batch:
                continue
            failed_at, result = self._attempt(shard_id, batch)
            if failed_at is None:
                self._checkpoint(shard_id, batch[-1].sequence)
                continue
            if failed_at:
                self._checkpoint(shard_id, batch[failed_at - 1].sequence)
            rest = batch[failed_at:]
            if result is None:  # never ran: retried until the records age out, not counted as a retry
                segments.insert(0, (rest, failures))
                self._stop.wait(RETRY_BACKOFF_SECONDS)
            elif mapping.bisect and result.error is not None and len(rest) > 1:
                half = len(rest) // 2
                segments[0:0] = [(rest[:half], failures), (rest[half:], failures)]
            elif mapping.max_retries is not None and failures >= mapping.max_retries:
                self._discard(shard_id, rest, RETRY_ATTEMPTS_EXHAUSTED, failures + 1, result)
            else:
                segments.insert(0, (rest, failures + 1))
                self._stop.wait(RETRY_BACKOFF_SECONDS)

    def _attempt(self, shard_id: str, batch: list[StreamItem]) -> tuple[int | None, Invocation | None]:
        """Invokes the function with the batch: (the index to retry from, None when it all succeeded; the result,
        None when the function never ran)."""
        event = {"Records": [self._record(shard_id, item) for item in batch]}
        try:
            result = self._services.invoke(self.mapping.function_arn, json.dumps(event).encode())
        except Exception:  # e.g. a throttle: the batch is tried again, as on AWS
            logger.exception("event source mapping %s could not invoke %s", self.mapping.uuid,
                             self.mapping.function_arn)
            return 0, None
        if result.error is not None:
            logger.info("%s failed a batch of %d from %s", self.mapping.function_arn, len(batch), shard_id)
            return 0, result
        if not self.mapping.report_item_failures:
            return None, result
        return first_failed_index(result.payload, [str(item.sequence) for item in batch]), result

    def _record(self, shard_id: str, item: StreamItem) -> dict[str, Any]:
        if self.mapping.service == "dynamodb":
            return dynamodb_record(item, self.mapping)
        if self._role is None:
            self._role = self._services.role_of(self.mapping.function_arn)
        return kinesis_record(item, self.mapping, shard_id, self._role)

    def _drop_aged(self, shard_id: str, batch: list[StreamItem], failures: int) -> list[StreamItem]:
        """The batch without the records older than MaximumRecordAgeInSeconds (those are discarded)."""
        limit = self.mapping.max_record_age_seconds
        if limit is None:
            return batch
        cutoff = time.time() - limit
        aged = list(itertools.takewhile(lambda item: item.arrival < cutoff, batch))
        if aged:
            self._discard(shard_id, aged, RECORD_AGE_EXCEEDED, failures, None)
        return batch[len(aged):]

    def _discard(self, shard_id: str, items: list[StreamItem], condition: str, invoke_count: int,
                 last: Invocation | None) -> None:
        mapping = self.mapping
        logger.info("event source mapping %s discards %d records of %s (%s)", mapping.uuid, len(items), shard_id,
                    condition)
        if mapping.on_failure:
            try:
                self._services.send_record(
                    mapping.on_failure, failure_record(mapping, shard_id, items, condition, invoke_count, last), False)
            except Exception:  # the records are discarded all the same, as on AWS
                logger.exception("event source mapping %s could not send its failure record to %s", mapping.uuid,
                                 mapping.on_failure)
        self._checkpoint(shard_id, items[-1].sequence)

    def _checkpoint(self, shard_id: str, sequence: int) -> None:
        self._positions[shard_id] = sequence
        self._services.reader.save_checkpoint(self.mapping.arn, shard_id, sequence)
