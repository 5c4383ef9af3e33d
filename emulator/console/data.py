"""What the console shows, read with the boto3 calls a user could make: CloudWatch, Logs, SQS, DynamoDB, S3.

Nothing runs unless a browser asks: every read happens inside a request, and is cached briefly so that
several open tabs cost what one does. The results queue is never received from (the Pi consumes it):
recent frames and their results come from the classifier's log lines; only the DLQ is peeked.
"""

from __future__ import annotations

import logging
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from contract import (
    DEFAULT_STACK_NAME,
    FrameKey,
    LatencyStats,
    MalformedResultError,
    Result,
    StackOutputsError,
    stack_outputs,
)
from contract.aws import (
    OUTPUT_DEAD_LETTER_QUEUE_URL,
    OUTPUT_FACE_CLASSIFIER,
    OUTPUT_FRAMES_BUCKET,
    OUTPUT_STUDENTS_TABLE,
)
from contract.lambda_logs import classified_results, iam_denials, parse_init_report, parse_report_line
from emulator.console.tail import LogEvent, LogTail, log_group

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 600  # what the plots and counts cover
PERIOD_SECONDS = 10  # one plot point (the emulator keeps every datum; AWS's Lambda metrics are per minute)
FAST_TTL = 1.0  # logs, queues, environments: re-read at most once a second, however many tabs poll
SLOW_TTL = 10.0  # metrics (one plot point per 10 s), DLQ peek
STILL_TTL = 30.0  # table and bucket counts: listing a bucket is the dearest read, and they change slowly
RECENT_FRAMES = 8
LOG_LINES = 12
MAX_KEPT_EVENTS = 20_000  # per function, within the window
DLQ_PEEK = 10
DENIED_KEPT = 10  # distinct denied calls listed per function
PNG_HEADER = b"\x89PNG\r\n\x1a\n"
COUNTS = ("Invocations", "Errors", "Throttles")  # summed per period; ConcurrentExecutions: its maximum

Client = Callable[[str], Any]
Point = tuple[int, dict[str, Any]]  # (period index in the window, a get_metric_statistics datapoint)


class FrameNotFoundError(LookupError):
    """The frame named is not in the frames bucket (or the key is not a frame key)."""


@dataclass(frozen=True)
class Metrics:
    """A function's AWS/Lambda metrics over the window: one value per period, oldest first."""

    series: Mapping[str, list[float]]  # Invocations, Errors, Throttles (sums), ConcurrentExecutions (max),
    # Duration (average per period, 0 where none)
    duration_avg: float | None
    duration_max: float | None

    def total(self, metric: str) -> int:
        return round(sum(self.series[metric]))

    def peak(self, metric: str) -> int:
        return round(max(self.series[metric], default=0.0))


@dataclass(frozen=True)
class FunctionView:
    """One function: metric series over the window, new environments, environments alive, last log lines."""

    name: str
    metrics: Metrics
    restores: int  # new environments restored from a snapshot (REPORT with Restore Duration)
    cold_starts: int  # new environments with their own INIT (REPORT with Init Duration)
    snapshots: int  # INIT_REPORT lines: one per snapshot made
    alive: int
    last_lines: list[LogEvent]
    denied: list[tuple[str, int]] = field(default_factory=list)  # `IAM:` lines in the window: calls AWS would refuse

    @property
    def denied_calls(self) -> int:
        return sum(count for _, count in self.denied)



@dataclass(frozen=True)
class QueueView:
    name: str
    url: str
    visible: int
    in_flight: int
    delayed: int
    fifo: bool
    dead_letter: bool


@dataclass(frozen=True)
class DeadLetter:
    """A DLQ message, peeked: when it was sent, how often received, Lambda's error attributes, the body."""

    message_id: str
    sent_at: str
    receive_count: int
    attributes: Mapping[str, str]
    body: str


@dataclass(frozen=True)
class FrameView:
    """A classified frame: its results, when the classifier logged them, the upload → result latency."""

    key: str
    results: list[Result]
    logged_at: datetime
    latency_ms: float
    size: tuple[int, int] | None  # (width, height) from the PNG header; None if not a PNG

    @property
    def device_id(self) -> str:
        return self.results[0].device_id


@dataclass(frozen=True)
class TableView:
    name: str
    status: str
    items: int
    key: str
    sample: list[str]


@dataclass(frozen=True)
class BucketView:
    name: str
    prefixes: list[tuple[str, str]]  # (prefix, object count: "12" or "1000+")


@dataclass(frozen=True)
class Snapshot:
    taken_at: datetime
    stack_name: str
    outputs: Mapping[str, str]
    functions: list[FunctionView]
    queues: list[QueueView]
    dead_letters: list[DeadLetter]
    table: TableView | None
    buckets: list[BucketView]
    frames: list[FrameView]
    latency: LatencyStats
    errors: Mapping[str, str] = field(default_factory=dict)  # section -> why it could not be read


class _Cached:
    """A value re-read at most every `ttl` seconds."""

    def __init__(self, ttl: float, read: Callable[[], Any]) -> None:
        self._ttl, self._read = ttl, read
        self._value: Any = None
        self._at = -float("inf")

    def get(self) -> Any:
        if time.monotonic() - self._at >= self._ttl:
            self._value = self._read()
            self._at = time.monotonic()
        return self._value


class _FunctionLog:
    """A function's log events within the window, read incrementally."""

    def __init__(self, logs: Any, function_name: str) -> None:
        self._tail = LogTail(logs, log_group(function_name), int((time.time() - WINDOW_SECONDS) * 1000))
        self.events: deque[LogEvent] = deque(maxlen=MAX_KEPT_EVENTS)

    def refresh(self) -> None:
        self.events.extend(self._tail.read())
        cutoff = (time.time() - WINDOW_SECONDS) * 1000
        while self.events and self.events[0]["timestamp"] < cutoff:
            self.events.popleft()


class ConsoleData:
    """Reads the stack's state on demand; `snapshot()` is what a page shows."""

    def __init__(self, client: Client, environments: Callable[[], Mapping[str, int]],
                 stack_name: str = DEFAULT_STACK_NAME) -> None:
        self._client = client
        self._environments = environments
        self._stack_name = stack_name
        self._lock = threading.Lock()
        self._logs: dict[str, _FunctionLog] = {}
        self._sizes: dict[str, tuple[int, int] | None] = {}
        self._outputs = _Cached(SLOW_TTL, self._read_outputs)
        self._metrics: dict[str, _Cached] = {}
        self._dead_letters = _Cached(SLOW_TTL, self._read_dead_letters)
        self._table = _Cached(STILL_TTL, self._read_table)
        self._buckets = _Cached(STILL_TTL, self._read_buckets)
        self._snapshot = _Cached(FAST_TTL, self._read_snapshot)

    def snapshot(self) -> Snapshot:
        with self._lock:
            return self._snapshot.get()

    def frame_png(self, key: str) -> bytes:
        """The frame's PNG from the frames bucket; FrameNotFoundError if there is none."""
        bucket = self._frames_bucket(key)
        try:
            return self._client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as exc:
            raise FrameNotFoundError(f"{key}: {exc}") from exc

    def _frames_bucket(self, key: str) -> str:
        try:
            FrameKey.parse(key)
        except ValueError as exc:
            raise FrameNotFoundError(str(exc)) from exc
        with self._lock:
            bucket = self._outputs.get().get(OUTPUT_FRAMES_BUCKET)
        if bucket is None:
            raise FrameNotFoundError(f"stack {self._stack_name} has no {OUTPUT_FRAMES_BUCKET} output")
        return bucket

    def _read_snapshot(self) -> Snapshot:
        errors: dict[str, str] = {}
        outputs = self._section("stack", errors, self._outputs.get, {})
        functions = self._section("functions", errors, lambda: self._read_functions(outputs), [])
        classifier = self._logs.get(outputs.get(OUTPUT_FACE_CLASSIFIER, ""))
        frames = self._section("frames", errors, lambda: self._read_frames(classifier, outputs), [])
        return Snapshot(
            taken_at=datetime.now(UTC),
            stack_name=self._stack_name,
            outputs=outputs,
            functions=functions,
            queues=self._section("queues", errors, lambda: self._read_queues(outputs), []),
            dead_letters=self._section("dead letters", errors, self._dead_letters.get, []),
            table=self._section("table", errors, self._table.get, None),
            buckets=self._section("buckets", errors, self._buckets.get, []),
            frames=frames[:RECENT_FRAMES],
            latency=LatencyStats.of([f.latency_ms for f in frames]),
            errors=errors,
        )

    @staticmethod
    def _section(name: str, errors: dict[str, str], read: Callable[[], Any], empty: Any) -> Any:
        """One part of the page; an AWS error there is shown in its place (and logged), the rest still renders."""
        try:
            return read()
        except (BotoCoreError, ClientError, StackOutputsError) as exc:
            logger.warning("console: cannot read %s: %s", name, exc)
            errors[name] = str(exc)
            return empty

    def _read_outputs(self) -> dict[str, str]:
        return stack_outputs(self._client("cloudformation"), self._stack_name)

    def _read_functions(self, outputs: Mapping[str, str]) -> list[FunctionView]:
        pages = self._client("lambda").get_paginator("list_functions").paginate()
        names = [f["FunctionName"] for page in pages for f in page["Functions"]]
        stack = set(outputs.values())
        alive = self._environments()
        return [self._function(name, alive.get(name, 0)) for name in sorted(names, key=lambda n: (n not in stack, n))]

    def _function(self, name: str, alive: int) -> FunctionView:
        log = self._logs.get(name)
        if log is None:
            log = self._logs[name] = _FunctionLog(self._client("logs"), name)
        log.refresh()
        metrics = self._metrics.get(name)
        if metrics is None:
            metrics = self._metrics[name] = _Cached(SLOW_TTL, lambda: self._read_metrics(name))
        reports = [r for r in (parse_report_line(e["message"], 0.0) for e in log.events) if r is not None]
        return FunctionView(
            name=name,
            metrics=metrics.get(),
            restores=sum(r.restore_duration_ms is not None for r in reports),
            cold_starts=sum(r.init_duration_ms is not None for r in reports),
            snapshots=sum(parse_init_report(e["message"]) is not None for e in log.events),
            alive=alive,
            last_lines=list(log.events)[-LOG_LINES:],
            denied=iam_denials(e["message"] for e in log.events).most_common(DENIED_KEPT),
        )

    def _read_metrics(self, function_name: str) -> Metrics:
        """Five `get_metric_statistics` calls, as a user would make them, bucketed into the window's periods."""
        end = time.time()
        series = {name: _per_period(self._statistics(function_name, name, "Sum", end), "Sum") for name in COUNTS}
        series["ConcurrentExecutions"] = _per_period(
            self._statistics(function_name, "ConcurrentExecutions", "Maximum", end), "Maximum")
        durations = self._statistics(function_name, "Duration", ("Sum", "SampleCount", "Maximum"), end)
        sums, counts = _per_period(durations, "Sum"), _per_period(durations, "SampleCount")
        series["Duration"] = [total / n if n else 0.0 for total, n in zip(sums, counts, strict=True)]
        return Metrics(series, sum(sums) / sum(counts) if sum(counts) else None,
                       max((p["Maximum"] for _, p in durations), default=None))

    def _statistics(self, function_name: str, metric: str, stats: str | tuple[str, ...], end: float) -> list[Point]:
        points = self._client("cloudwatch").get_metric_statistics(
            Namespace="AWS/Lambda", MetricName=metric, Period=PERIOD_SECONDS,
            Statistics=[stats] if isinstance(stats, str) else list(stats),
            Dimensions=[{"Name": "FunctionName", "Value": function_name}],
            StartTime=datetime.fromtimestamp(end - WINDOW_SECONDS, UTC), EndTime=datetime.fromtimestamp(end, UTC),
        )["Datapoints"]
        return [(int((p["Timestamp"].timestamp() - end + WINDOW_SECONDS) // PERIOD_SECONDS), p) for p in points]

    def _read_queues(self, outputs: Mapping[str, str]) -> list[QueueView]:
        sqs = self._client("sqs")
        urls = [url for page in sqs.get_paginator("list_queues").paginate() for url in page.get("QueueUrls", [])]
        views = []
        for url in sorted(urls):
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            views.append(QueueView(
                name=_queue_name(url), url=url,
                visible=int(attributes.get("ApproximateNumberOfMessages", 0)),
                in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
                delayed=int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
                fifo=attributes.get("FifoQueue") == "true",
                dead_letter=_queue_name(url) == _queue_name(outputs.get(OUTPUT_DEAD_LETTER_QUEUE_URL, "")),
            ))
        return views

    def _read_dead_letters(self) -> list[DeadLetter]:
        """Peeks the stack's DLQ (a standard queue nobody consumes): received with VisibilityTimeout=0, never deleted.

        Never done to the results queue: on a FIFO queue a receive locks the message group for its consumer.
        """
        url = self._outputs.get().get(OUTPUT_DEAD_LETTER_QUEUE_URL)
        if url is None or url.endswith(".fifo"):
            return []
        messages = self._client("sqs").receive_message(
            QueueUrl=url, MaxNumberOfMessages=DLQ_PEEK, VisibilityTimeout=0, WaitTimeSeconds=0,
            AttributeNames=["All"], MessageAttributeNames=["All"],
        ).get("Messages", [])
        return [_dead_letter(message) for message in messages]

    def _read_table(self) -> TableView | None:
        name = self._outputs.get().get(OUTPUT_STUDENTS_TABLE)
        if name is None:
            return None
        dynamodb = self._client("dynamodb")
        table = dynamodb.describe_table(TableName=name)["Table"]
        key = table["KeySchema"][0]["AttributeName"]
        items = dynamodb.scan(TableName=name, Limit=5, ProjectionExpression="#k",
                              ExpressionAttributeNames={"#k": key})["Items"]
        return TableView(name, table["TableStatus"], int(table.get("ItemCount", 0)), key,
                         sorted(next(iter(item[key].values())) for item in items))

    def _read_buckets(self) -> list[BucketView]:
        s3 = self._client("s3")
        views = []
        for bucket in sorted(b["Name"] for b in s3.list_buckets()["Buckets"]):
            top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
            prefixes = []
            for prefix in [p["Prefix"] for p in top.get("CommonPrefixes", [])]:
                page = s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1000)
                prefixes.append((prefix, f"{page['KeyCount']}{'+' if page.get('IsTruncated') else ''}"))
            if top.get("KeyCount", 0) > len(prefixes):
                prefixes.append(("(top level)", str(len(top.get("Contents", [])))))
            views.append(BucketView(bucket, prefixes))
        return views

    def _read_frames(self, classifier: _FunctionLog | None, outputs: Mapping[str, str]) -> list[FrameView]:
        """Every frame classified in the window, newest first; the newest carry their size (for drawing boxes)."""
        if classifier is None:
            return []
        frames: dict[str, FrameView] = {}
        for event in classifier.events:
            results = _logged_results(event["message"])
            if results:
                frames[results[0].frame_key] = _frame_view(results, event["timestamp"])
        newest = sorted(frames.values(), key=lambda f: f.logged_at, reverse=True)
        bucket = outputs.get(OUTPUT_FRAMES_BUCKET)
        return [replace(f, size=self._size(bucket, f.key)) if i < RECENT_FRAMES else f for i, f in enumerate(newest)]

    def _size(self, bucket: str | None, key: str) -> tuple[int, int] | None:
        """(width, height) from the first 24 bytes of the PNG (a ranged GET), remembered per key; None for a frame
        no longer in its bucket (a lifecycle rule deletes answered frames)."""
        if key not in self._sizes and bucket is not None:
            if len(self._sizes) > 4 * RECENT_FRAMES:
                self._sizes.clear()
            try:
                head = self._client("s3").get_object(Bucket=bucket, Key=key, Range="bytes=0-23")["Body"].read()
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "NoSuchKey":
                    raise
                head = b""
            self._sizes[key] = struct.unpack(">II", head[16:24]) if head.startswith(PNG_HEADER) else None
        return self._sizes.get(key)


def _logged_results(message: str) -> list[Result]:
    """The results of a classifier's `classified frame` line; [] (and a warning) for one it cannot read."""
    try:
        return classified_results(message)
    except MalformedResultError as exc:
        logger.warning("console: a classified-frame line it cannot read: %s", exc)
        return []


def _frame_view(results: list[Result], logged_ms: int) -> FrameView:
    logged_at = datetime.fromtimestamp(logged_ms / 1000, UTC)
    latency = (logged_at - results[0].uploaded_at).total_seconds() * 1000
    return FrameView(results[0].frame_key, results, logged_at, latency, None)


def _dead_letter(message: dict[str, Any]) -> DeadLetter:
    system = message.get("Attributes", {})
    attributes = {name: value.get("StringValue", "") for name, value in message.get("MessageAttributes", {}).items()}
    sent = datetime.fromtimestamp(int(system.get("SentTimestamp", 0)) / 1000, UTC)
    return DeadLetter(message["MessageId"], sent.strftime("%H:%M:%S"), int(system.get("ApproximateReceiveCount", 0)),
                      attributes, message["Body"])


def _per_period(points: list[Point], stat: str) -> list[float]:
    """One value per period of the window: datapoints falling in the same period are summed (or maxed)."""
    values = [0.0] * (WINDOW_SECONDS // PERIOD_SECONDS)
    for slot, point in points:
        if 0 <= slot < len(values):
            values[slot] = max(values[slot], point[stat]) if stat == "Maximum" else values[slot] + point[stat]
    return values


def _queue_name(url: str) -> str:
    """Queue URLs differ by host (the stack's outputs were made on the emulator's private deploy port)."""
    return url.rsplit("/", 1)[-1]
