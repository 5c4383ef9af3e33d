"""DynamoDB Streams and Kinesis: the shards moto keeps, read for our Lambda service's stream pollers.

- `StreamShard.add` (DynamoDB) and `Stream.put_record` (Kinesis): moto invokes every mapped function inside the
  writer's PutItem/PutRecord and, for DynamoDB, empties the shard when the function answered. AWS's writer returns
  at once and Lambda reads the stream from a poller
  (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html, https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html),
  so no table or stream keeps moto's registration (`detach_lambda_mappings`) and `BackendStreams` reads the
  shards' records (`StreamShard.items`, `Shard.records`) in place: no shard iterator is left behind per read, as
  moto's GetRecords leaves one in `DynamoDBStreamsBackend.shard_iterators` for good.
- Each mapping's checkpoints (per shard, the last sequence number Lambda finished with) are kept on moto's
  EventSourceMapping, so they are saved with the rest of the state and a restart resumes where it stopped.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import datetime
from typing import Any

from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import EventSourceMapping, LambdaBackend, lambda_backends
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import StreamShard, Table
from moto.kinesis.models import Shard, Stream, kinesis_backends

from emulator.aws import lambda_limits as limits
from emulator.aws.registry import Internal, Patch
from emulator.lambda_runtime.stream_sources import STREAM_SERVICES, StreamItem, StreamNotFoundError

_CHECKPOINTS = "_emulator_stream_checkpoints"
_TRANSITION = "_emulator_state_transition"
STARTING_POSITIONS = ("LATEST", "AT_TIMESTAMP", "TRIM_HORIZON")
# Ranges of CreateEventSourceMapping's parameters for stream sources: BatchSize 1-10,000 (DynamoDB and Kinesis
# default 100), MaximumBatchingWindowInSeconds 0-300, MaximumRetryAttempts -1-10,000, MaximumRecordAgeInSeconds
# -1-604,800 (https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html,
# https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-params.html,
# https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-parameters.html)
RANGES = {"BatchSize": (1, 10_000), "MaximumBatchingWindowInSeconds": (0, 300), "MaximumRetryAttempts": (-1, 10_000),
          "MaximumRecordAgeInSeconds": (-1, 604_800)}
MIN_RECORD_AGE_SECONDS = 60  # "values less than 60 and greater than -1 fall within the parameter's absolute range,
# they are not allowed" (the API reference's MaximumRecordAgeInSeconds)
# What GetEventSourceMapping answers for a stream mapping's unset settings (AWS's defaults, the pages above).
STREAM_DEFAULTS = {"MaximumRetryAttempts": -1, "MaximumRecordAgeInSeconds": -1, "BisectBatchOnFunctionError": False,
                   "ParallelizationFactor": 1, "FunctionResponseTypes": [], "TumblingWindowInSeconds": 0,
                   "MaximumBatchingWindowInSeconds": 0, "DestinationConfig": {"OnFailure": {}}}

TABLE_MAPPINGS = Internal(Table, "__init__", ("self", "table_name", "account_id", "region"),
                          source="self.lambda_event_source_mappings")
TABLE_STREAM = Internal(Table, "set_stream_specification", ("self", "streams"), source="self.stream_shard = ")
SHARD_ITEMS = Internal(StreamShard, "__init__", ("self", "account_id", "table"),
                       source="self.starting_sequence_number")
SHARD_INVOKES = Internal(StreamShard, "add", ("self", "old", "new"), source="self.table.lambda_event_source_mappings")
KINESIS_MAPPINGS = Internal(Stream, "__init__", ("self", "stream_name", "shard_count"),
                            source="self.lambda_event_source_mappings")
KINESIS_INVOKES = Internal(Stream, "put_record", ("self", "partition_key", "explicit_hash_key", "data"),
                           source="self.lambda_event_source_mappings.items()")
KINESIS_RECORDS = Internal(Shard, "__init__", ("self", "shard_id"), source="self.records")
MAPPING_CONFIGURATION = Internal(EventSourceMapping, "get_configuration", ("self",), source='"State": "Enabled"')
UPDATE_MAPPING = Internal(LambdaBackend, "update_event_source_mapping", ("self", "uuid", "spec"))
INTERNALS = (TABLE_MAPPINGS, TABLE_STREAM, SHARD_ITEMS, SHARD_INVOKES, KINESIS_MAPPINGS, KINESIS_INVOKES,
             KINESIS_RECORDS, MAPPING_CONFIGURATION, UPDATE_MAPPING)


class ResourceConflictException(LambdaClientError):
    code = 409

    def __init__(self, message: str) -> None:
        super().__init__("ResourceConflictException", message)


def patches() -> list[Patch]:
    return [Patch(MAPPING_CONFIGURATION, _configuration_as_aws_reports_it),
            Patch(UPDATE_MAPPING, _checked_update)]


def check_mapping(backend: LambdaBackend, spec: dict[str, Any]) -> None:
    """CreateEventSourceMapping of a DynamoDB or Kinesis stream refused as Lambda refuses it (the error codes and
    messages are those boto3 receives from AWS)."""
    arn = spec.get("EventSourceArn") or ""
    service = arn.split(":")[2] if arn.count(":") >= 2 else ""
    if service not in STREAM_SERVICES:
        return
    _check_starting_position(spec, service, arn)
    _check_ranges(spec)
    if not stream_exists(arn):
        raise LambdaClientError("InvalidParameterValueException", f"Stream not found: {arn}")
    function_arn = backend.get_function(spec["FunctionName"]).function_arn
    for existing in backend.list_event_source_mappings(arn, ""):
        if existing.function_arn == function_arn:
            raise ResourceConflictException(
                f'The event source arn (" {arn} ") and function (" {spec["FunctionName"]} ") provided mapping '
                f"already exists. Please update or delete the existing mapping with UUID {existing.uuid}")


def begin(mapping: EventSourceMapping) -> None:
    """A new stream mapping starts where its StartingPosition says: LATEST and AT_TIMESTAMP become checkpoints
    taken now (TRIM_HORIZON needs none); its create answer says State Creating, as AWS's does."""
    if mapping.event_source_arn.split(":")[2] not in STREAM_SERVICES:
        return
    setattr(mapping, _TRANSITION, "Creating")
    reader, arn = BackendStreams(), mapping.event_source_arn
    for shard_id in reader.shards(arn):
        if mapping.starting_position == "LATEST":
            sequence = reader.latest(arn, shard_id)
        elif mapping.starting_position == "AT_TIMESTAMP":
            sequence = reader.before(arn, shard_id, _epoch(mapping.starting_position_timestamp))
        else:
            continue
        if sequence is not None:
            reader.save_checkpoint(mapping.arn, shard_id, sequence)
    detach_lambda_mappings()


def _check_starting_position(spec: dict[str, Any], service: str, arn: str) -> None:
    position = spec.get("StartingPosition")
    if not position:
        raise LambdaClientError("InvalidParameterValueException", "1 validation error detected: Value null at "
                                "'startingPosition' failed to satisfy constraint: Member must not be null.")
    if position not in STARTING_POSITIONS:
        raise LambdaClientError("ValidationException", f"1 validation error detected: Value '{position}' at "
                                "'startingPosition' failed to satisfy constraint: Member must satisfy enum value "
                                f"set: [{', '.join(STARTING_POSITIONS)}]")
    if position == "AT_TIMESTAMP" and service == "dynamodb":  # DynamoDB: "TRIM_HORIZON or LATEST"
        raise LambdaClientError("InvalidParameterValueException", f"Unsupported starting position for arn type: {arn}")
    if position == "AT_TIMESTAMP" and spec.get("StartingPositionTimestamp") is None:
        raise LambdaClientError("InvalidParameterValueException", "Need to specify a timestamp")


def _check_ranges(spec: dict[str, Any]) -> None:
    for name, (low, high) in RANGES.items():
        value = spec.get(name)
        if value is None:
            continue
        field = name[0].lower() + name[1:]
        if int(value) > high:
            raise LambdaClientError("ValidationException", f"1 validation error detected: Value '{value}' at "
                                    f"'{field}' failed to satisfy constraint: Member must have value less than or "
                                    f"equal to {high}")
        if int(value) < low:
            raise LambdaClientError("ValidationException", f"1 validation error detected: Value '{value}' at "
                                    f"'{field}' failed to satisfy constraint: Member must have value greater than "
                                    f"or equal to {low}")
    age = spec.get("MaximumRecordAgeInSeconds")
    if age is not None and -1 < int(age) < MIN_RECORD_AGE_SECONDS:
        raise LambdaClientError("InvalidParameterValueException",
                                f"MaximumRecordAgeInSeconds must be -1 or at least {MIN_RECORD_AGE_SECONDS}: {age}")


def _configuration_as_aws_reports_it(original: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """A stream mapping's settings with AWS's defaults filled in, and the State of the change just made (Creating,
    Enabling, Disabling) in the answer to that change; moto reports Enabled/Disabled at once."""

    def get_configuration(mapping: EventSourceMapping) -> dict[str, Any]:
        config = original(mapping)
        if mapping.event_source_arn.split(":")[2] in STREAM_SERVICES:
            config = {**STREAM_DEFAULTS, **config, "StateTransitionReason": "User action"}
        transition = mapping.__dict__.pop(_TRANSITION, None)
        if transition:
            config["State"] = transition
        return config

    return get_configuration


def _checked_update(original: Callable[..., Any]) -> Callable[..., Any]:
    """UpdateEventSourceMapping checked as CreateEventSourceMapping checks: an SQS mapping's batching as it will be
    after the update, a stream mapping's ranges; a stream mapping's answer says Enabling or Disabling when Enabled
    changed."""

    def update(backend: LambdaBackend, uuid: str, spec: dict[str, Any]) -> Any:
        mapping = backend.get_event_source_mapping(uuid)
        if mapping is not None and mapping.event_source_arn.split(":")[2] == "sqs":
            limits.check_sqs_mapping(mapping.event_source_arn, spec.get("BatchSize", mapping.batch_size),
                                     spec.get("MaximumBatchingWindowInSeconds", mapping.max_batch_window))
        if mapping is None or mapping.event_source_arn.split(":")[2] not in STREAM_SERVICES:
            return original(backend, uuid, spec)
        _check_ranges(spec)
        was_enabled = bool(mapping.enabled)
        result = original(backend, uuid, spec)
        if "Enabled" in spec and bool(spec["Enabled"]) != was_enabled:
            setattr(mapping, _TRANSITION, "Enabling" if spec["Enabled"] else "Disabling")
        return result

    return update


def _epoch(timestamp: Any) -> float:
    if isinstance(timestamp, datetime):
        return timestamp.timestamp()
    return float(timestamp)


def detach_lambda_mappings() -> None:
    """No table or Kinesis stream keeps moto's mapped functions: our pollers read the records instead."""
    for table in _tables():
        table.lambda_event_source_mappings.clear()
    for stream in _kinesis_streams():
        stream.lambda_event_source_mappings.clear()


def stream_exists(arn: str) -> bool:
    """Whether a DynamoDB stream (the table's current one) or a Kinesis stream has this ARN."""
    try:
        _shards(arn)
    except StreamNotFoundError:
        return False
    return True


class BackendStreams:
    """The StreamReader of emulator/lambda_runtime/stream_sources.py over moto's backends."""

    def shards(self, arn: str) -> list[str]:
        return list(_shards(arn))

    def read(self, arn: str, shard_id: str, after: int | None, limit: int) -> list[StreamItem]:
        shard = _shards(arn).get(shard_id)
        if shard is None:
            return []
        if isinstance(shard, StreamShard):
            start = 0 if after is None else max(0, after + 1 - shard.starting_sequence_number)
            return [_dynamodb_item(record.to_json()) for record in shard.items[start:start + limit]]
        records = [record for sequence, record in list(shard.records.items()) if after is None or sequence > after]
        return [_kinesis_item(record) for record in records[:limit]]

    def latest(self, arn: str, shard_id: str) -> int | None:
        shard = _shards(arn).get(shard_id)
        if isinstance(shard, StreamShard) and shard.items:
            return shard.starting_sequence_number + len(shard.items) - 1
        if isinstance(shard, Shard) and shard.records:
            return shard.get_max_sequence_number()
        return None

    def before(self, arn: str, shard_id: str, timestamp: float) -> int | None:
        """The last sequence number of records that arrived before `timestamp` (None: none did)."""
        shard = _shards(arn).get(shard_id)
        if not isinstance(shard, Shard):
            return None
        earlier = [sequence for sequence, record in list(shard.records.items()) if record.created_at < timestamp]
        return earlier[-1] if earlier else None

    def checkpoints(self, mapping_arn: str) -> dict[str, int]:
        mapping = _mapping(mapping_arn)
        return dict(getattr(mapping, _CHECKPOINTS, None) or {}) if mapping is not None else {}

    def save_checkpoint(self, mapping_arn: str, shard_id: str, sequence: int) -> None:
        mapping = _mapping(mapping_arn)
        if mapping is not None:
            checkpoints = getattr(mapping, _CHECKPOINTS, None) or {}
            setattr(mapping, _CHECKPOINTS, {**checkpoints, shard_id: sequence})


def _shards(arn: str) -> dict[str, StreamShard | Shard]:
    """The shards of a stream ARN by id; StreamNotFoundError when no current stream has it."""
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn":
        raise StreamNotFoundError(arn)
    service, region, account, resource = parts[2], parts[3], parts[4], ":".join(parts[5:])
    try:
        return _shards_of(service, region, account, resource)
    except KeyError as exc:  # a region or account moto has no backend for
        raise StreamNotFoundError(arn) from exc


def _shards_of(service: str, region: str, account: str, resource: str) -> dict[str, StreamShard | Shard]:
    arn = f"arn:aws:{service}:{region}:{account}:{resource}"
    if service == "dynamodb" and "/stream/" in resource:
        table_name, label = resource.removeprefix("table/").split("/stream/", 1)
        table = dynamodb_backends[account][region].tables.get(table_name)
        if table is not None and table.stream_shard is not None and table.latest_stream_label == label:
            return {table.stream_shard.id: table.stream_shard}
    if service == "kinesis" and resource.startswith("stream/"):
        stream = kinesis_backends[account][region].streams.get(resource.removeprefix("stream/"))
        if stream is not None:
            return dict(stream.shards)
    raise StreamNotFoundError(arn)


def _dynamodb_item(record: dict[str, Any]) -> StreamItem:
    dynamodb = dict(record["dynamodb"])
    created = calendar.timegm(dynamodb["ApproximateCreationDateTime"].utctimetuple())
    dynamodb["ApproximateCreationDateTime"] = created  # "rounded down to the closest second"
    return StreamItem(sequence=int(dynamodb["SequenceNumber"]), arrival=float(created),
                      fields={"eventID": record["eventID"], "eventName": record["eventName"], "dynamodb": dynamodb})


def _kinesis_item(record: Any) -> StreamItem:
    return StreamItem(sequence=int(record.sequence_number), arrival=float(record.created_at),
                      fields={"partitionKey": record.partition_key, "data": record.data})


def _mapping(mapping_arn: str) -> EventSourceMapping | None:
    parts = mapping_arn.split(":")
    return lambda_backends[parts[4]][parts[3]].get_event_source_mapping(parts[-1])


def _tables() -> list[Table]:
    return [table for regions in list(dynamodb_backends.values()) for backend in list(regions.values())
            for table in list(backend.tables.values())]


def _kinesis_streams() -> list[Stream]:
    return [stream for regions in list(kinesis_backends.values()) for backend in list(regions.values())
            for stream in list(backend.streams.values())]
