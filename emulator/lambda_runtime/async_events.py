"""The async event path (InvocationType=Event): AWS's event queue, throttle backoff, retries, then the outcome to
an OnSuccess/OnFailure destination or the DLQ (destinations.py)."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from emulator.lambda_runtime.destinations import (
    EVENT_AGE_EXCEEDED,
    RETRIES_EXHAUSTED,
    SUCCESS,
    AsyncConfig,
    Destinations,
    Outcome,
    invocation_record,
)
from emulator.lambda_runtime.errors import RESERVED_ZERO_ERROR, EmulatorError
from emulator.lambda_runtime.pool import FunctionPool, Telemetry
from emulator.lambda_runtime.run_threads import RunThreads

logger = logging.getLogger(__name__)

_THROTTLE_BACKOFF_SECONDS = (0.05, 1.0)
_AWS_MAX_THROTTLE_BACKOFF_SECONDS = 300.0  # AWS: "from 1 second ... to a maximum of 5 minutes"


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


def _start_failure(exc: Exception) -> dict[str, Any]:
    """The error of an event whose function the emulator could not start: retried like a function error."""
    return {"errorType": "ServiceException", "errorMessage": f"the function could not be started: {exc}"}


def _throttle_backoff(throttles: int, own_run_in_flight: bool) -> float:
    """50 ms doubling per throttled try; capped at 1 s, or at AWS's 5 min while the end of a run retries anyway."""
    first, cap = _THROTTLE_BACKOFF_SECONDS
    return min(_AWS_MAX_THROTTLE_BACKOFF_SECONDS if own_run_in_flight else cap,
               first * 2 ** min(throttles - 1, 20))
