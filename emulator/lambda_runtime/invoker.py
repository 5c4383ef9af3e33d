"""Sync and async invocation with AWS's semantics: concurrency limits, throttles, retries, DLQ."""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from emulator.config import EmulatorConfig
from emulator.errors import THROTTLED, EmulatorError
from emulator.lambda_runtime.logs import LogShipper, end_line, report_line, start_line
from emulator.lambda_runtime.metrics import MetricsPublisher
from emulator.lambda_runtime.workers import FunctionSpec, InvocationResult, Worker, WorkerSettings

logger = logging.getLogger(__name__)

SpecResolver = Callable[[str], FunctionSpec]
_THROTTLE_BACKOFF_SECONDS = (0.05, 1.0)
MAX_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024  # AWS's limit for RequestResponse invocations
MAX_ASYNC_PAYLOAD_BYTES = 1024 * 1024  # AWS's limit for Event invocations (256 KB before October 2025)


class ThrottledError(EmulatorError):
    """The function is already running as many instances as its concurrency limit allows."""

    error_type = THROTTLED


class PayloadTooLargeError(EmulatorError):
    """The event is larger than Lambda accepts for this invocation type."""

    error_type = "RequestTooLargeException"


@dataclass
class Telemetry:
    """Where invocations report to: the console and CloudWatch Logs, CloudWatch metrics, the DLQ."""

    logs: LogShipper
    metrics: MetricsPublisher
    sqs: Any


class FunctionPool:
    """The warm workers of one function version and the concurrency slots they run in."""

    def __init__(self, spec: FunctionSpec, limit: int, settings: WorkerSettings, telemetry: Telemetry,
                 account: AccountConcurrency) -> None:
        self.spec = spec
        self.limit = limit
        self._settings = settings
        self._telemetry = telemetry
        self._account = account
        self._lock = threading.Lock()
        self._idle: list[Worker] = []
        self._in_flight = 0
        self._retired = False

    @property
    def worker_count(self) -> int:
        with self._lock:
            return len(self._idle) + self._in_flight

    def try_reserve(self) -> bool:
        """Claims a concurrency slot; False (and a Throttles datapoint) when none is free."""
        with self._lock:
            if self._in_flight >= self.limit or not self._account.acquire():
                throttled = True
            else:
                self._in_flight += 1
                in_flight, throttled = self._in_flight, False
        if throttled:
            self._telemetry.metrics.throttle(self.spec.name)
            return False
        self._telemetry.metrics.concurrency(self.spec.name, in_flight, self._account.in_flight)
        return True

    def invoke(self, payload: bytes) -> InvocationResult:
        """A synchronous invocation: raises ThrottledError when no slot is free."""
        if not self.try_reserve():
            raise ThrottledError(f"Rate Exceeded: {self.spec.name} is at its concurrency limit ({self.limit})")
        return self.run_reserved(payload)

    def run_reserved(self, payload: bytes) -> InvocationResult:
        """Runs one event in a slot claimed by try_reserve, and gives the slot back."""
        try:
            worker = self._take_idle()
            return self._run(worker or self._start_worker(), payload, cold=worker is None)
        finally:
            with self._lock:
                self._in_flight -= 1
            self._account.release()

    def reap_idle(self, idle_seconds: float) -> int:
        """Stops workers idle for longer than idle_seconds; returns how many."""
        now = time.monotonic()
        with self._lock:
            stale = [w for w in self._idle if now - w.last_used > idle_seconds]
            self._idle = [w for w in self._idle if w not in stale]
        for worker in stale:
            worker.kill()
        return len(stale)

    def retire(self) -> None:
        """Stops idle workers now; busy ones are stopped when they finish."""
        with self._lock:
            self._retired = True
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()

    def _take_idle(self) -> Worker | None:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive:
                    return worker
        return None

    def _start_worker(self) -> Worker:
        return Worker(self.spec, self._settings, self._write_worker_line)

    def _write_worker_line(self, worker: Worker, line: str) -> None:
        self._telemetry.logs.write(self.spec, worker.log_stream, line)

    def _run(self, worker: Worker, payload: bytes, cold: bool) -> InvocationResult:
        request_id = str(uuid.uuid4())
        logs = self._telemetry.logs
        init_error = worker.wait_ready(self._settings.init_timeout) if cold else None
        logs.write(self.spec, worker.log_stream, start_line(request_id))
        if init_error is not None:
            result = InvocationResult(request_id, None, init_error, 0.0, worker.init_duration_ms, 0, True)
        else:
            result = worker.invoke(request_id, payload)
            if cold:
                result = replace(result, init_duration_ms=worker.init_duration_ms)
        if result.error is not None:
            logs.write(self.spec, worker.log_stream, json.dumps(result.error))
        logs.write(self.spec, worker.log_stream, end_line(request_id))
        logs.write(self.spec, worker.log_stream, report_line(self.spec, result))
        self._telemetry.metrics.invocation(self.spec.name, result.duration_ms, result.error is not None)
        self._return_worker(worker, reusable=not result.worker_lost and worker.alive)
        return result

    def _return_worker(self, worker: Worker, reusable: bool) -> None:
        with self._lock:
            if reusable and not self._retired:
                self._idle.append(worker)
                return
        worker.kill()


class AccountConcurrency:
    """The account-wide concurrency limit that all functions share."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0
        self._lock = threading.Lock()

    def acquire(self) -> bool:
        with self._lock:
            if self.in_flight >= self.limit:
                return False
            self.in_flight += 1
            return True

    def release(self) -> None:
        with self._lock:
            self.in_flight -= 1


@dataclass(order=True)
class _QueuedEvent:
    ready_at: float
    seq: int
    function_name: str = field(compare=False)
    payload: bytes = field(compare=False)
    request_id: str = field(compare=False)
    queued_at: float = field(compare=False)
    attempts: int = field(default=0, compare=False)


class AsyncInvoker:
    """AWS's event queue: run when a slot frees, retry failures twice, then dead-letter."""

    def __init__(self, pools: Callable[[str], FunctionPool], telemetry: Telemetry,
                 retry_delays: tuple[float, ...], max_event_age: float) -> None:
        self._pools = pools
        self._telemetry = telemetry
        self._retry_delays = retry_delays
        self._max_event_age = max_event_age
        self._heap: list[_QueuedEvent] = []
        self._seq = itertools.count()
        self._wake = threading.Condition()
        self._stopped = False
        self._running: set[threading.Thread] = set()
        self._thread = threading.Thread(target=self._dispatch_forever, name="async-invoker", daemon=True)
        self._thread.start()

    def submit(self, function_name: str, payload: bytes) -> str:
        """Queues an event (InvocationType=Event); returns its request id."""
        now = time.monotonic()
        event = _QueuedEvent(now, next(self._seq), function_name, payload, str(uuid.uuid4()), now)
        self._push(event)
        return event.request_id

    def pending(self) -> int:
        with self._wake:
            return len(self._heap) + len(self._running)

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify_all()
        self._thread.join(timeout=5.0)

    def _push(self, event: _QueuedEvent) -> None:
        with self._wake:
            heapq.heappush(self._heap, event)
            self._wake.notify_all()

    def _next_ready(self) -> _QueuedEvent | None:
        with self._wake:
            while not self._stopped:
                if self._heap and self._heap[0].ready_at <= time.monotonic():
                    return heapq.heappop(self._heap)
                timeout = self._heap[0].ready_at - time.monotonic() if self._heap else None
                self._wake.wait(timeout)
            return None

    def _dispatch_forever(self) -> None:
        while (event := self._next_ready()) is not None:
            self._dispatch(event)

    def _dispatch(self, event: _QueuedEvent) -> None:
        try:
            pool = self._pools(event.function_name)
        except EmulatorError as exc:
            logger.error("dropping event %s for %s: %s", event.request_id, event.function_name, exc)
            return
        if time.monotonic() - event.queued_at > self._max_event_age:
            self._dead_letter(pool.spec, event, {"errorType": "EventAgeExceeded", "errorMessage": "event too old"})
            return
        if not pool.try_reserve():
            event.ready_at = time.monotonic() + _throttle_backoff(event.attempts)
            event.seq = next(self._seq)
            self._push(event)
            return
        thread = threading.Thread(target=self._run, args=(pool, event), daemon=True)
        with self._wake:
            self._running.add(thread)
        thread.start()

    def _run(self, pool: FunctionPool, event: _QueuedEvent) -> None:
        try:
            result = pool.run_reserved(event.payload)
            if result.error is not None:
                self._retry_or_dead_letter(pool.spec, event, result.error)
        finally:
            with self._wake:
                self._running.discard(threading.current_thread())

    def _retry_or_dead_letter(self, spec: FunctionSpec, event: _QueuedEvent, error: dict[str, Any]) -> None:
        if event.attempts < len(self._retry_delays):
            event.ready_at = time.monotonic() + self._retry_delays[event.attempts]
            event.attempts += 1
            event.seq = next(self._seq)
            self._push(event)
            return
        self._dead_letter(spec, event, error)

    def _dead_letter(self, spec: FunctionSpec, event: _QueuedEvent, error: dict[str, Any]) -> None:
        attempts = event.attempts + 1
        if spec.dead_letter_arn is None:
            logger.error("%s: event %s failed %d times and has no DLQ: %s", spec.name, event.request_id,
                         attempts, error)
            return
        try:
            self._send_to_dead_letter_queue(spec.dead_letter_arn, spec, event, error)
        except (BotoCoreError, ClientError) as exc:
            self._telemetry.metrics.dead_letter_error(spec.name)
            logger.error("%s: event %s failed %d times and could not be dead-lettered (%s); dropped, as AWS "
                         "drops it, and counted in DeadLetterErrors", spec.name, event.request_id, attempts, exc)
            return
        logger.warning("%s: event %s sent to the DLQ after %d attempts (%s)", spec.name, event.request_id,
                       attempts, error.get("errorType"))

    def _send_to_dead_letter_queue(self, arn: str, spec: FunctionSpec, event: _QueuedEvent,
                                   error: dict[str, Any]) -> None:
        queue_name, account = arn.split(":")[-1], arn.split(":")[4]
        sqs = self._telemetry.sqs
        queue_url = sqs.get_queue_url(QueueName=queue_name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        sqs.send_message(
            QueueUrl=queue_url,
            MessageBody=event.payload.decode("utf-8", "replace"),
            MessageAttributes={
                "RequestID": {"DataType": "String", "StringValue": event.request_id},
                "ErrorCode": {"DataType": "String", "StringValue": str(error.get("errorType", "Unhandled"))},
                "ErrorMessage": {"DataType": "String", "StringValue": str(error.get("errorMessage", ""))[:1024]},
                "ApproximateInvokeCount": {"DataType": "Number", "StringValue": str(event.attempts + 1)},
                "FunctionName": {"DataType": "String", "StringValue": spec.name},
            },
        )


def _check_payload(payload: bytes, limit: int, invocation_type: str) -> None:
    if len(payload) > limit:
        raise PayloadTooLargeError(f"{invocation_type} payload of {len(payload)} bytes exceeds the {limit}-byte "
                                   "limit of the Invoke operation")


def _throttle_backoff(attempts: int) -> float:
    low, high = _THROTTLE_BACKOFF_SECONDS
    return min(high, low * (2 ** min(attempts, 5)))


class LambdaService:
    """Runs functions on demand: one pool per function version, sync and async entry points."""

    def __init__(self, config: EmulatorConfig, base_env: dict[str, str], telemetry: Telemetry,
                 resolve: SpecResolver) -> None:
        self._config = config
        self._settings = WorkerSettings(base_env, config.init_timeout_seconds, config.state_dir / "tmp")
        self._telemetry = telemetry
        self._resolve = resolve
        self._pools: dict[str, FunctionPool] = {}
        self._lock = threading.Lock()
        self._account = AccountConcurrency(config.account_concurrency)
        self.events = AsyncInvoker(self.pool, telemetry, config.async_retry_delays, config.max_event_age_seconds)
        self._stop = threading.Event()
        threading.Thread(target=self._reap_forever, name="worker-reaper", daemon=True).start()

    def pool(self, function_name: str) -> FunctionPool:
        """The pool for the function's current configuration; a changed function gets fresh workers."""
        spec = self._resolve(function_name)
        with self._lock:
            current = self._pools.get(spec.name)
            if current is not None and current.spec == spec:
                return current
            limit = min(spec.reserved_concurrency or self._config.account_concurrency,
                        self._config.account_concurrency)
            fresh = FunctionPool(spec, limit, self._settings, self._telemetry, self._account)
            self._pools[spec.name] = fresh
        if current is not None:
            current.retire()
        return fresh

    def invoke(self, function_name: str, payload: bytes) -> InvocationResult:
        _check_payload(payload, MAX_SYNC_PAYLOAD_BYTES, "RequestResponse")
        return self.pool(function_name).invoke(payload)

    def invoke_async(self, function_name: str, payload: bytes) -> str:
        _check_payload(payload, MAX_ASYNC_PAYLOAD_BYTES, "Event")
        return self.events.submit(function_name, payload)

    def worker_counts(self) -> dict[str, int]:
        with self._lock:
            return {name: pool.worker_count for name, pool in self._pools.items()}

    def stop(self) -> None:
        self._stop.set()
        self.events.stop()
        with self._lock:
            pools = list(self._pools.values())
        for pool in pools:
            pool.retire()

    def _reap_forever(self) -> None:
        while not self._stop.wait(min(5.0, self._config.worker_idle_seconds)):
            with self._lock:
                pools = list(self._pools.values())
            for pool in pools:
                pool.reap_idle(self._config.worker_idle_seconds)
