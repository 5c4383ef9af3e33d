"""Function logs: AWS's START/END/REPORT lines, to the console and to CloudWatch Logs."""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from emulator.lambda_runtime.shipper import (
    SHIP_PATIENCE_SECONDS,
    AccountClients,
    BackgroundShipper,
    NotShipped,
    account_of,
)
from emulator.lambda_runtime.workers import FunctionSpec, InvocationResult

console = logging.getLogger("emulator.lambda")
logger = logging.getLogger(__name__)

LogRecord = tuple[str, str, str, int, str]  # (account, group, stream, epoch ms, message)
StreamKey = tuple[str, str, str]  # (account, group, stream)
START_PREFIX = "START RequestId: "
MAX_HELD_LINES = 10_000  # INIT lines held for a function not invoked yet; past that its group is made at once


def start_line(request_id: str, version: str) -> str:
    return f"START RequestId: {request_id} Version: {version}"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}"


def report_line(spec: FunctionSpec, result: InvocationResult) -> str:
    """AWS's REPORT line: Init Duration on a spawned cold start, Restore Duration on a forked one."""
    line = (
        f"REPORT RequestId: {result.request_id}\tDuration: {result.duration_ms:.2f} ms\t"
        f"Billed Duration: {math.ceil(result.duration_ms)} ms\tMemory Size: {spec.memory_mb} MB\t"
        f"Max Memory Used: {result.max_memory_mb} MB"
    )
    if result.init_duration_ms is not None:
        line += f"\tInit Duration: {result.init_duration_ms:.2f} ms"
    if result.restore_duration_ms is not None:
        line += (f"\tRestore Duration: {result.restore_duration_ms:.2f} ms\t"
                 f"Billed Restore Duration: {math.ceil(result.billed_restore_ms or 0.0)} ms")
    if result.error_type in ("Sandbox.Timedout",):
        line += "\tStatus: timeout"
    return line


def init_report_line(init_duration_ms: float, failed: bool) -> str:
    """AWS's INIT_REPORT, logged once per snapshot (SnapStart): the INIT phase's duration and outcome."""
    status = "error" if failed else "success"
    return f"INIT_REPORT Init Duration: {init_duration_ms:.2f} ms\tPhase: init\tStatus: {status}"


class LogShipper(BackgroundShipper[LogRecord]):
    """Writes each function's lines to the console and ships them to `/aws/lambda/<fn>`.

    Lambda makes a function's log group at its first invocation; the emulator starts environments earlier (at
    CreateFunction, from a snapshot), and their INIT lines made the group then, before a template's own
    AWS::Logs::LogGroup for the function, which failed with "already exists". A group's lines are held until the
    function's first START line, or until someone else made the group."""

    def __init__(self, clients: AccountClients, patience_seconds: float = SHIP_PATIENCE_SECONDS) -> None:
        self._clients = clients
        self._lookups_failing = False
        self._known_streams: set[StreamKey] = set()
        self._invoked: set[tuple[str, str]] = set()  # (account, group) whose function has run, or whose group exists
        self._held: dict[tuple[str, str], list[LogRecord]] = defaultdict(list)
        super().__init__(patience_seconds=patience_seconds)

    def write(self, spec: FunctionSpec, stream: str, message: str) -> None:
        console.info("[%s] %s", spec.name, message)
        self.put((account_of(spec.arn), spec.log_group, stream, int(time.time() * 1000), message))

    def ship(self, batch: list[LogRecord]) -> None:
        by_stream: dict[StreamKey, list[LogRecord]] = defaultdict(list)
        for record in self._past_first_invocation(batch):
            by_stream[record[:3]].append(record)
        unshipped: list[LogRecord] = []
        cause: Exception | None = None
        for key, records in by_stream.items():
            try:
                self._put(key, records)
            except (BotoCoreError, ClientError) as exc:
                unshipped, cause = unshipped + records, exc
        if cause is not None:
            raise NotShipped(unshipped, cause)

    def _put(self, key: StreamKey, records: list[LogRecord]) -> None:
        """One stream's records, in time order: PutLogEvents refuses a batch that is not ("The log events in the
        batch must be in chronological order by their timestamp",
        https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html), and two
        threads (the pool's START, an environment's output) can stamp lines in one order and queue them in the
        other."""
        account, group, stream = key
        self._ensure_stream(key)
        events = [{"timestamp": timestamp, "message": message}
                  for *_, timestamp, message in sorted(records, key=lambda record: record[3])]
        try:
            self._clients(account).put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                self._known_streams.discard(key)  # deleted since it was made: made again on the next attempt
            raise

    def _past_first_invocation(self, batch: list[LogRecord]) -> list[LogRecord]:
        """The records to ship now: those of functions invoked (the held INIT lines first, at their first START),
        of groups made by someone else, and of functions holding more than MAX_HELD_LINES."""
        ready: list[LogRecord] = []
        for record in batch:
            key = (record[0], record[1])
            if key not in self._invoked and not record[4].startswith(START_PREFIX):
                self._held[key].append(record)
                continue
            self._invoked.add(key)
            ready += self._held.pop(key, [])
            ready.append(record)
        for key in [k for k, held in self._held.items() if len(held) > MAX_HELD_LINES or self._group_exists(*k)]:
            self._invoked.add(key)
            ready += self._held.pop(key)
        return ready

    def _group_exists(self, account: str, group: str) -> bool:
        """Whether the group exists; False when that could not be asked (held lines wait a round more), logged when
        asking starts to fail (the emulator does not serve until its stack is up)."""
        try:
            existing = self._clients(account).describe_log_groups(logGroupNamePrefix=group)["logGroups"]
        except (BotoCoreError, ClientError) as exc:
            if not self._lookups_failing:
                logger.warning("could not look for log group %s (%s): its held lines wait until it can", group, exc)
            self._lookups_failing = True
            return False
        self._lookups_failing = False
        return any(g["logGroupName"] == group for g in existing)

    def _ensure_stream(self, key: StreamKey) -> None:
        if key in self._known_streams:
            return
        account, group, stream = key
        client = self._clients(account)
        _unless_made_already(client.create_log_group, logGroupName=group)
        _unless_made_already(client.create_log_stream, logGroupName=group, logStreamName=stream)
        self._known_streams.add(key)


def _unless_made_already(create: Callable[..., Any], **names: str) -> None:
    """Creates a log group or stream that another writer may have made a moment ago (the IAM findings of a request
    thread write to the function's group too)."""
    try:
        create(**names)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceAlreadyExistsException":
            raise
