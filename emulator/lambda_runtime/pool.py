"""The environments of one function version: warm ones reused, new ones spawned or forked from its template,
inside the concurrency slots of the function and of the account."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, replace
from typing import Any

from emulator.lambda_runtime.errors import (
    ACCOUNT_LIMIT_REASON,
    EXIT_ERROR,
    INIT_ERROR,
    RESERVED_LIMIT_REASON,
    EmulatorError,
    ThrottledError,
)
from emulator.lambda_runtime.logs import LogShipper, end_line, init_report_line, report_line, start_line
from emulator.lambda_runtime.metrics import MetricsPublisher
from emulator.lambda_runtime.spec import FunctionSpec, Runtime, WorkerSettings, function_runtime
from emulator.lambda_runtime.supervisor import Supervisor
from emulator.lambda_runtime.template import Template, TemplateLostError
from emulator.lambda_runtime.workers import InvocationResult, Worker, spawn_launcher

logger = logging.getLogger(__name__)


@dataclass
class Telemetry:
    """Where invocations report to: the console and CloudWatch Logs, CloudWatch metrics."""

    logs: LogShipper
    metrics: MetricsPublisher


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


class FunctionPool:
    """The environments of one function version, the concurrency slots they run in, and (fork mode) their template."""

    def __init__(self, spec: FunctionSpec, limit: int, settings: WorkerSettings, telemetry: Telemetry,
                 account: AccountConcurrency, supervisor: Supervisor) -> None:
        self.spec = spec
        self._supervisor = supervisor
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
            self._telemetry.metrics.throttle(self.spec.arn)
            return False
        self._telemetry.metrics.concurrency(self.spec.arn, in_flight, self._account.in_flight)
        return True

    def invoke(self, payload: bytes, accepted_at: float | None = None) -> InvocationResult:
        """A synchronous invocation: raises ThrottledError when no slot is free."""
        if not self.try_reserve():
            reserved = self.spec.reserved_concurrency is not None
            logger.info("%s throttled: %s concurrency limit %d reached", self.spec.name,
                        "its reserved" if reserved else "the account's", self.limit)
            raise ThrottledError(RESERVED_LIMIT_REASON if reserved else ACCOUNT_LIMIT_REASON)
        return self.run_reserved(payload, accepted_at)

    def run_reserved(self, payload: bytes, accepted_at: float | None = None) -> InvocationResult:
        """Runs one event in a slot claimed by try_reserve, and gives the slot back. Its deadline counts from
        `accepted_at` (when the Invoke request was taken; default now), as Lambda's does; a new environment's start
        is left out (Init is not part of the function's timeout)."""
        accepted_at = accepted_at or time.time()
        try:
            worker = self._take_idle()
            if worker is not None:
                result = self._run(worker, payload, cold=False, accepted_at=accepted_at)
                if not result.undelivered:
                    return result
                logger.info("%s: an idle environment died before taking its event; a new one takes it",
                            self.spec.name)
            starting = time.time()
            worker, init_error = self._new_worker()
            if worker is None:
                return self._fail_before_start(payload, init_error or {})
            return self._run(worker, payload, cold=True, accepted_at=accepted_at + (time.time() - starting))
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
        """Ends environments idle for longer than idle_seconds, without waiting (on the supervisor's loop)."""
        now = time.monotonic()
        with self._lock:
            stale = [w for w in self._idle if now - w.last_used > idle_seconds]
            self._idle = [w for w in self._idle if w not in stale]
        for worker in stale:
            worker.end_soon()
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
                          spawn_launcher(self.spec, runtime), self._supervisor), None
        for _ in range(2):  # a template that died is rebuilt once
            template = self._ready_template()
            if not isinstance(template, Template):
                return None, template
            if template.init_error is not None:
                return None, template.init_error
            try:
                return Worker(self.spec, self._settings, self._write_worker_line, template.fork, self._supervisor,
                              restored=True), None
            except TemplateLostError:
                logger.warning("%s: its template process died; building a new one", self.spec.name)
        return None, {"errorType": EXIT_ERROR, "errorMessage": "Runtime exited during restore"}

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
            template = Template(self.spec, self._settings, runtime, self._write_template_line, self._supervisor)
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

    def _run(self, worker: Worker, payload: bytes, cold: bool, accepted_at: float | None = None) -> InvocationResult:
        request_id = str(uuid.uuid4())
        init_error = worker.wait_ready(self._settings.init_timeout) if cold else None  # INIT is not in the timeout
        self._telemetry.logs.write(self.spec, worker.log_stream, start_line(request_id, self.spec.version))
        if init_error is not None:
            result = InvocationResult(request_id, None, init_error, 0.0, worker.init_duration_ms, 0, True)
        else:
            result = worker.invoke(request_id, payload, accepted_at)
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
        self._telemetry.logs.write(self.spec, stream, start_line(request_id, self.spec.version))
        return self._report(stream, InvocationResult(request_id, None, error, 0.0, None, 0, True))

    def _report(self, stream: str, result: InvocationResult) -> InvocationResult:
        """Logs the invocation's error, END and REPORT; the result with its whole log (what `LogType=Tail` shows)."""
        closing = [json.dumps(result.error)] if result.error is not None else []
        closing += [end_line(result.request_id), report_line(self.spec, result)]
        for line in closing:
            self._telemetry.logs.write(self.spec, stream, line)
        self._telemetry.metrics.invocation(self.spec.arn, result.duration_ms, result.error is not None)
        opening = start_line(result.request_id, self.spec.version)
        return replace(result, log_lines=(opening, *result.log_lines, *closing))

    def _return_worker(self, worker: Worker, reusable: bool) -> None:
        with self._lock:
            if reusable and not self._retired:
                self._idle.append(worker)
                return
        worker.kill()

