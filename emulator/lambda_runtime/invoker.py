"""Sync and async invocation with AWS's semantics: concurrency limits, throttles, retries, DLQ."""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import math
import queue
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from emulator.config import EmulatorConfig
from emulator.destinations import (
    EVENT_AGE_EXCEEDED,
    RETRIES_EXHAUSTED,
    SUCCESS,
    AsyncConfig,
    Destinations,
    Outcome,
    invocation_record,
)
from emulator.errors import INIT_ERROR, THROTTLED, EmulatorError
from emulator.hot_reload import LocalCode
from emulator.lambda_runtime.logs import LogShipper, end_line, init_report_line, report_line, start_line
from emulator.lambda_runtime.metrics import MetricsPublisher
from emulator.lambda_runtime.spec import (
    FunctionSpec,
    Runtime,
    WorkerSettings,
    function_name_of,
    function_runtime,
    probe_private_tmp,
)
from emulator.lambda_runtime.template import Template, TemplateLostError
from emulator.lambda_runtime.workers import InvocationResult, Worker, spawn_launcher
from emulator.packaging import EnvironmentBuilder

logger = logging.getLogger(__name__)

SpecResolver = Callable[[str], FunctionSpec]
_THROTTLE_BACKOFF_SECONDS = (0.05, 1.0)
_AWS_MAX_THROTTLE_BACKOFF_SECONDS = 300.0  # AWS: "from 1 second ... to a maximum of 5 minutes"
MAX_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024  # AWS's limit for RequestResponse invocations
MAX_ASYNC_PAYLOAD_BYTES = 1024 * 1024  # AWS's limit for Event invocations (256 KB before October 2025)


class ThrottledError(EmulatorError):
    """The function is already running as many instances as its concurrency limit allows.

    The message and `reason` are AWS's: the reason says whether the function's reserved concurrency or the
    account's limit was reached.
    """

    error_type = THROTTLED

    def __init__(self, reason: str) -> None:
        super().__init__(RATE_EXCEEDED)
        self.reason = reason


RATE_EXCEEDED = "Rate Exceeded."  # AWS's message for a throttled invocation
RESERVED_LIMIT_REASON = "ReservedFunctionConcurrentInvocationLimitExceeded"
ACCOUNT_LIMIT_REASON = "ConcurrentInvocationLimitExceeded"
RESERVED_ZERO_ERROR = {"errorType": "TooManyRequestsException", "errorMessage": RATE_EXCEEDED}


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
    """The environments of one function version, the concurrency slots they run in, and (fork mode) their template."""

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
        self._template_lock = threading.Lock()
        self._template: Template | None = None
        self._template_failed_at = 0.0
        self._runtime: Runtime | dict[str, Any] | None = None  # built once per pool; an init error if it failed

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
            reserved = self.spec.reserved_concurrency is not None
            logger.info("%s throttled: %s concurrency limit %d reached", self.spec.name,
                        "its reserved" if reserved else "the account's", self.limit)
            raise ThrottledError(RESERVED_LIMIT_REASON if reserved else ACCOUNT_LIMIT_REASON)
        return self.run_reserved(payload)

    def run_reserved(self, payload: bytes) -> InvocationResult:
        """Runs one event in a slot claimed by try_reserve, and gives the slot back."""
        try:
            worker = self._take_idle()
            if worker is not None:
                result = self._run(worker, payload, cold=False)
                if not result.undelivered:
                    return result
                logger.info("%s: an idle environment died before taking its event; a new one takes it",
                            self.spec.name)
            worker, init_error = self._new_worker()
            if worker is None:
                return self._fail_before_start(payload, init_error or {})
            return self._run(worker, payload, cold=True)
        finally:
            with self._lock:
                self._in_flight -= 1
                drained = self._retired and self._in_flight == 0
            self._account.release()
            if drained:
                self._close_template()

    def prepare(self) -> None:
        """Builds the environment and (fork mode) runs INIT now, as SnapStart does when a version is published."""
        if self._settings.cold_start == "fork":
            self._ready_template()
        else:
            self._function_runtime()

    def reap_idle(self, idle_seconds: float) -> int:
        """Stops environments idle for longer than idle_seconds; returns how many."""
        now = time.monotonic()
        with self._lock:
            stale = [w for w in self._idle if now - w.last_used > idle_seconds]
            self._idle = [w for w in self._idle if w not in stale]
        for worker in stale:
            worker.kill()
        return len(stale)

    def retire(self) -> None:
        """Stops idle environments now; busy ones finish their event on the old code, then stop."""
        with self._lock:
            self._retired = True
            idle, self._idle = self._idle, []
            drained = self._in_flight == 0
        for worker in idle:
            worker.kill()
        if drained:
            self._close_template()

    def _take_idle(self) -> Worker | None:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive:
                    return worker
        return None

    def _new_worker(self) -> tuple[Worker | None, dict[str, Any] | None]:
        """A new environment, or the INIT error that prevents one."""
        if self._settings.cold_start == "spawn":
            runtime = self._function_runtime()
            if not isinstance(runtime, Runtime):
                return None, runtime
            return Worker(self.spec, self._settings, self._write_worker_line,
                          spawn_launcher(self.spec, runtime)), None
        for _ in range(2):  # a template that died is rebuilt once
            template = self._ready_template()
            if not isinstance(template, Template):
                return None, template
            if template.init_error is not None:
                return None, template.init_error
            try:
                return Worker(self.spec, self._settings, self._write_worker_line, template.fork, restored=True), None
            except TemplateLostError:
                logger.warning("%s: its template process died; building a new one", self.spec.name)
        return None, {"errorType": "Runtime.ExitError", "errorMessage": "Runtime exited during restore"}

    def _function_runtime(self) -> Runtime | dict[str, Any]:
        """The function's interpreter and variables (its environment built on first use), or why it has none."""
        with self._template_lock:
            if self._runtime is None:
                try:
                    self._runtime = function_runtime(self.spec, self._settings)
                except EmulatorError as exc:
                    logger.error("%s: %s", self.spec.name, exc)
                    self._runtime = {"errorType": INIT_ERROR, "errorMessage": str(exc)}
            return self._runtime

    def _ready_template(self) -> Template | dict[str, Any]:
        """The function's initialised template; INIT runs here once (again after a failure, at most every few s)."""
        runtime = self._function_runtime()
        if not isinstance(runtime, Runtime):
            return runtime
        with self._template_lock:
            current = self._template
            if current is not None and (current.alive or self._init_failed_recently(current)):
                return current
            if current is not None and current.init_error is None:
                current.close()
            template = Template(self.spec, self._settings, runtime, self._write_template_line)
            error = template.wait_ready(self._settings.init_timeout)
            self._telemetry.logs.write(self.spec, template.log_stream,
                                       init_report_line(template.init_duration_ms or 0.0, error is not None))
            if error is not None:
                template.close()
                self._template_failed_at = time.monotonic()
            self._template = template
            return template

    def _init_failed_recently(self, template: Template) -> bool:
        return (template.init_error is not None
                and time.monotonic() - self._template_failed_at < self._settings.init_retry_seconds)

    def _close_template(self) -> None:
        with self._template_lock:
            template, self._template = self._template, None
        if template is not None:
            template.close()

    def _write_worker_line(self, worker: Worker, line: str) -> None:
        self._telemetry.logs.write(self.spec, worker.log_stream, line)

    def _write_template_line(self, stream: str, line: str) -> None:
        self._telemetry.logs.write(self.spec, stream, line)

    def _run(self, worker: Worker, payload: bytes, cold: bool) -> InvocationResult:
        request_id = str(uuid.uuid4())
        init_error = worker.wait_ready(self._settings.init_timeout) if cold else None
        self._telemetry.logs.write(self.spec, worker.log_stream, start_line(request_id))
        if init_error is not None:
            result = InvocationResult(request_id, None, init_error, 0.0, worker.init_duration_ms, 0, True)
        else:
            result = worker.invoke(request_id, payload)
            if result.undelivered and not cold:
                worker.kill()
                return result
            if cold:
                result = replace(result, init_duration_ms=worker.init_duration_ms,
                                 restore_duration_ms=worker.restore_duration_ms,
                                 billed_restore_ms=worker.billed_restore_ms)
        result = self._report(worker.log_stream, result)
        self._return_worker(worker, reusable=not result.worker_lost and worker.alive)
        return result

    def _fail_before_start(self, payload: bytes, error: dict[str, Any]) -> InvocationResult:
        """An event that no environment could take (INIT failed): AWS's error, logged like any invocation."""
        request_id = str(uuid.uuid4())
        template = self._template
        stream = template.log_stream if template is not None else "init-failures"
        self._telemetry.logs.write(self.spec, stream, start_line(request_id))
        return self._report(stream, InvocationResult(request_id, None, error, 0.0, None, 0, True))

    def _report(self, stream: str, result: InvocationResult) -> InvocationResult:
        """Logs the invocation's error, END and REPORT; the result with its whole log (what `LogType=Tail` shows)."""
        closing = [json.dumps(result.error)] if result.error is not None else []
        closing += [end_line(result.request_id), report_line(self.spec, result)]
        for line in closing:
            self._telemetry.logs.write(self.spec, stream, line)
        self._telemetry.metrics.invocation(self.spec.name, result.duration_ms, result.error is not None)
        return replace(result, log_lines=(start_line(result.request_id), *result.log_lines, *closing))

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


class RunThreads:
    """Daemon threads that run async invocations, each reused for the next event once its run ends.

    A new thread starts only when every existing one is busy, so there are never more than the most runs ever in
    flight at once (bounded by the concurrency limits); a thread per event made the allocator's per-thread state
    churn with the traffic. Not a ThreadPoolExecutor: its threads are joined at interpreter exit, so a function
    running for minutes would hold up the emulator's stop.
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._jobs: queue.SimpleQueue[tuple[Callable[..., None], tuple[Any, ...]]] = queue.SimpleQueue()
        self._idle = 0
        self._started = 0
        self._lock = threading.Lock()

    @property
    def started(self) -> int:
        """How many threads were ever started."""
        with self._lock:
            return self._started

    @property
    def idle(self) -> int:
        """How many threads wait for work."""
        with self._lock:
            return self._idle

    def submit(self, run: Callable[..., None], *args: Any) -> None:
        """Runs `run(*args)` on an idle thread, or on a new one when none is idle."""
        with self._lock:
            fresh = self._idle == 0
            if fresh:
                self._started += 1
            else:
                self._idle -= 1
        self._jobs.put((run, args))
        if fresh:
            threading.Thread(target=self._serve, name=f"{self._name}-{self._started}", daemon=True).start()

    def _serve(self) -> None:
        while True:
            run, args = self._jobs.get()
            run(*args)
            with self._lock:
                self._idle += 1


@dataclass(order=True)
class _QueuedEvent:
    ready_at: float
    seq: int
    function_name: str = field(compare=False)
    payload: bytes = field(compare=False)
    request_id: str = field(compare=False)
    queued_at: float = field(compare=False)
    invocations: int = field(default=0, compare=False)


@dataclass
class _ThrottleGate:
    """A throttled function's waiting events, oldest first; only the oldest is tried, at `open_at`."""

    events: deque[_QueuedEvent] = field(default_factory=deque)
    throttles: int = 0
    open_at: float = 0.0
    probing: bool = False


class AsyncInvoker:
    """AWS's event queue: run when a slot frees, retry failures, then OnFailure/DLQ; OnSuccess on success.

    Throttling (docs/fidelity.md): a throttled event waits behind its function's gate with the events queued
    after it, and only the oldest is tried again: at once when one of the function's async runs ends, else
    after a backoff that doubles per throttled try (from 50 ms, capped at 1 s, or at AWS's 5 min while a run of
    its own is in flight, whose end retries it). Each throttled try is one `Throttles` datapoint, as on AWS.
    """

    def __init__(self, pools: Callable[[str], FunctionPool], telemetry: Telemetry,
                 retry_delays: tuple[float, ...], max_event_age: float) -> None:
        self._pools = pools
        self._telemetry = telemetry
        self._retry_delays = retry_delays
        self._max_event_age = max_event_age
        self._config: Callable[[str], AsyncConfig] = AsyncConfig  # AWS's defaults until configure()
        self._destinations: Destinations | None = None
        self._heap: list[_QueuedEvent] = []
        self._gates: dict[str, _ThrottleGate] = {}
        self._in_flight: Counter[str] = Counter()
        self._seq = itertools.count()
        self._wake = threading.Condition()
        self._stopped = False
        self.runs = RunThreads("async-run")
        self._thread = threading.Thread(target=self._dispatch_forever, name="async-invoker", daemon=True)
        self._thread.start()

    def configure(self, config: Callable[[str], AsyncConfig], destinations: Destinations) -> None:
        """Where each function's retry, age and destination settings come from, and how records are sent."""
        self._config = config
        self._destinations = destinations

    def submit(self, function_name: str, payload: bytes) -> str:
        """Queues an event (InvocationType=Event); returns its request id."""
        now = time.monotonic()
        event = _QueuedEvent(now, next(self._seq), function_name, payload, str(uuid.uuid4()), now)
        self._push(event, now)
        return event.request_id

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify_all()
        self._thread.join(timeout=5.0)

    def _push(self, event: _QueuedEvent, ready_at: float) -> None:
        event.ready_at = ready_at
        event.seq = next(self._seq)
        with self._wake:
            heapq.heappush(self._heap, event)
            self._wake.notify_all()

    def _next_ready(self) -> tuple[_QueuedEvent, bool] | None:
        """The next event to try, and whether it is a throttled function's oldest (its gate's probe)."""
        with self._wake:
            while not self._stopped:
                now = time.monotonic()
                for gate in self._gates.values():
                    if not gate.probing and gate.open_at <= now:
                        gate.probing = True
                        return gate.events.popleft(), True
                if self._heap and self._heap[0].ready_at <= now:
                    return heapq.heappop(self._heap), False
                due = [g.open_at for g in self._gates.values() if not g.probing]
                due += [self._heap[0].ready_at] if self._heap else []
                self._wake.wait(min(due) - now if due else None)
            return None

    def _dispatch_forever(self) -> None:
        while (ready := self._next_ready()) is not None:
            self._dispatch(*ready)

    def _dispatch(self, event: _QueuedEvent, probe: bool) -> None:
        name = event.function_name
        if not probe and self._wait_behind_gate(event):
            return
        try:
            config = self._config(name)
        except EmulatorError as exc:
            logger.error("dropping event %s: %s (AWS discards a deleted function's events)", event.request_id, exc)
            self._end_probe(name, started=False)
            return
        if time.monotonic() - event.queued_at > (config.max_event_age_seconds or self._max_event_age):
            self._end_probe(name, started=False)
            self._fail(config, event, Outcome(EVENT_AGE_EXCEEDED, event.invocations))
            return
        try:
            pool = self._pools(name)
        except Exception as exc:  # whatever fails preparing the function, the event must not vanish
            logger.exception("%s: event %s cannot start the function", name, event.request_id)
            self._end_probe(name, started=False)
            self._after_run(config, event, None, _start_failure(exc))
            return
        if pool.limit == 0:  # reserved concurrency 0: AWS sends new events to OnFailure / the DLQ, without retries
            self._end_probe(name, started=False)
            self._fail(config, event, Outcome(RETRIES_EXHAUSTED, event.invocations, error=RESERVED_ZERO_ERROR))
            return
        if not pool.try_reserve():
            self._throttled(event)
            return
        with self._wake:
            self._in_flight[name] += 1
        self._end_probe(name, started=True)
        self.runs.submit(self._run, pool, config, event)

    def _wait_behind_gate(self, event: _QueuedEvent) -> bool:
        """A throttled function's new event queues behind its older ones instead of being tried (and counted)."""
        with self._wake:
            gate = self._gates.get(event.function_name)
            if gate is not None:
                gate.events.append(event)
            return gate is not None

    def _throttled(self, event: _QueuedEvent) -> None:
        """The event goes (back) to the front of its function's gate, which stays shut a little longer."""
        with self._wake:
            gate = self._gates.setdefault(event.function_name, _ThrottleGate())
            gate.probing = False
            gate.events.appendleft(event)
            gate.throttles += 1
            self._shut(event.function_name, gate)

    def _end_probe(self, function_name: str, started: bool) -> None:
        """After a gate's oldest event ran (the rest wait for a slot to free) or was dropped (the next goes now)."""
        with self._wake:
            gate = self._gates.get(function_name)
            if gate is None or not gate.probing:
                return
            gate.probing = False
            if not gate.events:
                del self._gates[function_name]
            elif started:
                self._shut(function_name, gate)
            self._wake.notify_all()

    def _shut(self, function_name: str, gate: _ThrottleGate) -> None:
        gate.open_at = time.monotonic() + _throttle_backoff(gate.throttles, self._in_flight[function_name] > 0)

    def _run(self, pool: FunctionPool, config: AsyncConfig, event: _QueuedEvent) -> None:
        try:
            result = pool.run_reserved(event.payload)
        except Exception as exc:  # whatever fails starting the worker, the event must not vanish
            logger.exception("%s: event %s: the worker failed", event.function_name, event.request_id)
            self._after_run(config, event, None, _start_failure(exc))
        else:
            self._after_run(config, event, result.payload, result.error)
        finally:
            self._run_ended(event.function_name)

    def _run_ended(self, function_name: str) -> None:
        """A slot of this function is free: its oldest throttled event need not wait out its backoff."""
        with self._wake:
            self._in_flight[function_name] -= 1
            gate = self._gates.get(function_name)
            if gate is not None:
                gate.open_at = time.monotonic()
            self._wake.notify_all()

    def _after_run(self, config: AsyncConfig, event: _QueuedEvent, payload: bytes | None,
                   error: dict[str, Any] | None) -> None:
        event.invocations += 1
        if error is None:
            if config.on_success is not None:
                self._send_record(config, config.on_success, event, Outcome(SUCCESS, event.invocations, payload))
        elif event.invocations <= config.max_retries:
            self._push(event, time.monotonic() + self._retry_delays[event.invocations - 1])
        else:
            self._fail(config, event, Outcome(RETRIES_EXHAUSTED, event.invocations, error=error))

    def _fail(self, config: AsyncConfig, event: _QueuedEvent, outcome: Outcome) -> None:
        """OnFailure destination and DLQ both get the event, as on AWS; with neither, it is logged and dropped."""
        if config.on_failure is not None:
            self._send_record(config, config.on_failure, event, outcome)
        if config.dead_letter_arn is not None:
            self._send_dead_letter(config.dead_letter_arn, event, outcome)
        if config.on_failure is None and config.dead_letter_arn is None:
            logger.error("%s: event %s dropped (%s after %d runs; no OnFailure destination, no DLQ): %s",
                         event.function_name, event.request_id, outcome.condition, outcome.invoke_count,
                         outcome.error)

    def _send_record(self, config: AsyncConfig, destination: str, event: _QueuedEvent, outcome: Outcome) -> None:
        assert self._destinations is not None, "a config with destinations comes from configure()"
        record = invocation_record(config.function_arn, event.request_id, event.payload, outcome)
        try:
            self._destinations.send_record(destination, record, outcome.succeeded)
        except (BotoCoreError, ClientError, EmulatorError) as exc:
            self._telemetry.metrics.destination_delivery_failure(event.function_name)
            logger.error("%s: event %s: %s record not delivered to %s (%s); counted in DestinationDeliveryFailures",
                         event.function_name, event.request_id, outcome.condition, destination, exc)

    def _send_dead_letter(self, target: str, event: _QueuedEvent, outcome: Outcome) -> None:
        assert self._destinations is not None, "a config with a DLQ comes from configure()"
        try:
            self._destinations.send_dead_letter(target, event.function_name, event.request_id, event.payload,
                                                outcome)
        except (BotoCoreError, ClientError, EmulatorError) as exc:
            self._telemetry.metrics.dead_letter_error(event.function_name)
            logger.error("%s: event %s could not be dead-lettered (%s); dropped, as AWS drops it, and counted in "
                         "DeadLetterErrors", event.function_name, event.request_id, exc)
            return
        logger.warning("%s: event %s sent to the DLQ after %d runs (%s)", event.function_name, event.request_id,
                       outcome.invoke_count, outcome.condition)


def _prune_environments(builder: EnvironmentBuilder, unused_days: float) -> None:
    removed = builder.prune(unused_days)
    if removed:
        logger.warning("removed %d cached function environment(s) unused for %g days (EMULATOR_FUNCTION_ENV_DAYS): %s",
                       len(removed), unused_days, ", ".join(path.name for path in removed))


def _start_failure(exc: Exception) -> dict[str, Any]:
    """The error of an event whose function the emulator could not start: retried like a function error."""
    return {"errorType": "ServiceException", "errorMessage": f"the function could not be started: {exc}"}


def _check_payload(payload: bytes, limit: int, invocation_type: str) -> None:
    if len(payload) > limit:
        raise PayloadTooLargeError(f"{invocation_type} payload of {len(payload)} bytes exceeds the {limit}-byte "
                                   "limit of the Invoke operation")


def _throttle_backoff(throttles: int, own_run_in_flight: bool) -> float:
    """50 ms doubling per throttled try; capped at 1 s, or at AWS's 5 min while the end of a run retries anyway."""
    first, cap = _THROTTLE_BACKOFF_SECONDS
    return min(_AWS_MAX_THROTTLE_BACKOFF_SECONDS if own_run_in_flight else cap,
               first * 2 ** min(throttles - 1, 20))


class LambdaService:
    """Runs functions on demand: one pool per function version, sync and async entry points."""

    def __init__(self, config: EmulatorConfig, base_env: dict[str, str], telemetry: Telemetry,
                 resolve: SpecResolver) -> None:
        self._config = config
        isolated = config.function_envs == "isolated"
        builder = EnvironmentBuilder(config.cache_dir, config.wheelhouse) if isolated else None
        if builder is not None:
            threading.Thread(target=_prune_environments, args=(builder, config.function_env_days),
                             name="prune-function-envs", daemon=True).start()
        self.private_tmp_unavailable = probe_private_tmp()
        if self.private_tmp_unavailable is not None:
            logger.warning("environments get their own TMPDIR only, not their own /tmp: %s",
                           self.private_tmp_unavailable)
        self._settings = WorkerSettings(base_env, config.init_timeout_seconds, config.state_dir / "tmp",
                                        config.cold_start, builder=builder,
                                        private_tmp=self.private_tmp_unavailable is None)
        self._telemetry = telemetry
        self._resolve = resolve
        self._pools: dict[str, FunctionPool] = {}
        self._local_code: dict[str, LocalCode] = {}
        self._lock = threading.Lock()
        self._account = AccountConcurrency(config.account_concurrency)
        self.events = AsyncInvoker(self.pool, telemetry, config.async_retry_delays, config.max_event_age_seconds)
        self._stop = threading.Event()
        threading.Thread(target=self._reap_forever, name="worker-reaper", daemon=True).start()

    def isolation(self) -> dict[str, str]:
        """How functions are kept apart: their environments and their /tmp (for `python -m emulator status`)."""
        return {"function_environments": self._config.function_envs,
                "private_tmp": "mount namespace per environment" if self._settings.private_tmp else
                f"off, TMPDIR per environment only ({self.private_tmp_unavailable})"}

    def pool(self, function_name: str) -> FunctionPool:
        """The pool for the function's current configuration; a changed function gets fresh environments."""
        spec = self._spec(function_name)
        with self._lock:
            current = self._pools.get(spec.name)
            if current is not None and current.spec == spec:
                return current
            limit = self._config.account_concurrency
            if spec.reserved_concurrency is not None:  # 0 is a valid setting: AWS then throttles every event
                limit = min(spec.reserved_concurrency, limit)
            settings = self._settings
            if spec.name in self._local_code:  # a broken edit fails until the next save, not on a timer
                settings = replace(settings, init_retry_seconds=math.inf)
            fresh = FunctionPool(spec, limit, settings, self._telemetry, self._account)
            self._pools[spec.name] = fresh
        if current is not None:
            current.retire()
        return fresh

    def prepare(self, function_names: list[str]) -> None:
        """Snapshots of these functions, made side by side; returns when all are ready (or failed)."""
        threads = [threading.Thread(target=self.pool(name).prepare, name=f"prepare-{name}") for name in function_names]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def use_local_code(self, local_code: dict[str, LocalCode]) -> None:
        """Functions that run from their local folder (while their deployed code is the one zipped from it)."""
        with self._lock:
            self._local_code = dict(local_code)

    def reload(self, function_name: str, files_changed: int) -> None:
        """A saved change: idle environments and the snapshot go now, busy ones after their event."""
        with self._lock:
            pool = self._pools.pop(function_name, None)
        if pool is not None:
            pool.retire()
        logger.warning("reloaded %s (%d files changed)", function_name, files_changed)
        self.prepare([function_name])

    def _spec(self, function_name: str) -> FunctionSpec:
        spec = self._resolve(function_name)
        local = self._local_code.get(spec.name)
        if local is not None and local.code_sha256 == spec.code_sha256:
            return local.applied_to(spec)
        return spec

    def invoke(self, function_name: str, payload: bytes) -> InvocationResult:
        _check_payload(payload, MAX_SYNC_PAYLOAD_BYTES, "RequestResponse")
        return self.pool(function_name).invoke(payload)

    def invoke_async(self, function_name: str, payload: bytes) -> str:
        _check_payload(payload, MAX_ASYNC_PAYLOAD_BYTES, "Event")
        return self.events.submit(function_name_of(function_name), payload)

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
