"""The results consumer: N threads long-poll the FIFO results queue, report each result, then delete it.

Delivery is at least once. A message is deleted only after `on_result` returned, so a consumer
that dies mid-run loses nothing (SQS redelivers after the visibility timeout). A message delivered again after
it was reported (its delete failed, or its visibility timeout ran out first) is deleted, not reported twice; one
delivered again while another thread is still reporting it is handed back until that ends. A graceful stop (Ctrl-C,
idle timeout, max_results) starts no new poll, waits for the open long polls to return and hands back at
once (visibility 0) every message received but not reported: a poll left open after the process exits
would take the next message and hide it for the visibility timeout from the next consumer. Near the idle
deadline the polls are shortened to end by it. A message whose `on_result` raised is logged and left to
come back after the visibility timeout.

A malformed body is logged and left in the queue. If the queue has a redrive policy, SQS moves it
to the dead-letter queue after maxReceiveCount receives. Without one it would block its FIFO message
group for ever, so after `max_malformed_receives` receives it is deleted, its full body logged first.
"""

import json
import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from contract import (
    LatencyStats,
    MalformedResultError,
    Result,
    join_pollers,
    poll_until_stopped,
    release_messages,
    utc_now,
)
from device.config import ClientConfig, ConsumerConfig, make_client
from device.errors import ConfigError
from device.this_run import ThisRun

logger = logging.getLogger(__name__)

MAX_THREADS = 500
JOIN_MARGIN = 5.0
_MISSING = object()


@dataclass(frozen=True)
class Delivery:
    """How a result arrived: message id, receive count, when, and latencies (ms) from upload and capture."""

    message_id: str
    receive_count: int
    received_at: datetime
    upload_latency_ms: float
    capture_latency_ms: float


@dataclass(frozen=True)
class Summary:
    """What a consumer saw: results by status, malformed and failed deliveries, accuracy, latency.

    With an expected file, the results, their statuses, accuracy and latencies are this run's (device.this_run);
    `earlier` counts the results of clips recorded before this run (or by another device), left out of those.
    Malformed and failed deliveries name no clip one could trust: they are counted whichever run they are from.
    """

    results: int
    earlier: int
    by_status: Mapping[str, int]
    malformed: int
    failed: int
    judged: int
    correct: int
    upload_latency: LatencyStats
    capture_latency: LatencyStats

    @property
    def accuracy(self) -> float | None:
        """Correct / judged (results that had an expected name), or None if none were judged."""
        return self.correct / self.judged if self.judged else None


class ResultsConsumer:
    """Long-polls the results queue with `threads` threads until `stop` is set (or a limit is hit)."""

    def __init__(
        self,
        queue_url: str,
        threads: int = 50,
        on_result: Callable[[Result, Delivery], None] | None = None,
        stop: threading.Event | None = None,
        config: ConsumerConfig | None = None,
        sqs: Any = None,
    ) -> None:
        if not 1 <= threads <= MAX_THREADS:
            raise ConfigError(f"threads must be between 1 and {MAX_THREADS}, got {threads}")
        self._queue_url = queue_url
        self._threads = threads
        self._on_result = on_result
        self.stop_event = stop or threading.Event()
        self._config = config or ConsumerConfig()
        self._sqs = sqs or make_client("sqs", self._client_config())
        self._lock = threading.Lock()
        self._open_polls = 0
        self._handled: list[tuple[Result, Delivery]] = []
        self._reporting: set[str] = set()  # message ids being reported right now
        self._reported: set[str] = set()  # message ids reported: a delivery of one again is not counted
        self._claimed = 0
        self._malformed = 0
        self._failed = 0
        self._poison_limit: int | None = self._config.max_malformed_receives
        self._last_activity = time.monotonic()

    def run(self) -> Summary:
        """Poll until stopped, idle for idle_timeout, or max_results reported; return the summary.

        Returns once every thread has ended: its open long poll returned (what it brought handed back) and
        its batch reported or handed back; after wait_time_seconds + JOIN_MARGIN it stops waiting and warns.
        """
        self._poison_limit = self._read_poison_limit()
        self._last_activity = time.monotonic()
        workers = [threading.Thread(target=self._poll, name=f"results-{i}", daemon=True) for i in range(self._threads)]
        for worker in workers:
            worker.start()
        while not self.stop_event.wait(0.1):
            self._check_idle()
        if self.open_polls:
            logger.info("stopping: waiting for %d open poll(s) to return (at most %d s)", self.open_polls,
                        self._config.wait_time_seconds)
        join_pollers(workers, self._config.wait_time_seconds + JOIN_MARGIN, self._queue_url)
        return self.summary()

    def stop(self) -> None:
        """Stop all threads; messages received but not yet reported are handed back."""
        self.stop_event.set()

    @property
    def open_polls(self) -> int:
        """Receive calls in progress right now."""
        with self._lock:
            return self._open_polls

    def results(self) -> list[tuple[Result, Delivery]]:
        """Every result reported so far, in the order it was reported."""
        with self._lock:
            return list(self._handled)

    def summary(self, expected: Mapping[str, str | None] | None = None) -> Summary:
        """Counts and latency percentiles; with `expected` (see load_expected) accuracy, over this run only."""
        with self._lock:
            reported, malformed, failed = list(self._handled), self._malformed, self._failed
        this_run = ThisRun.of_expected(expected) if expected else None
        handled = [pair for pair in reported if this_run is None or this_run.includes(pair[0])]
        judged = correct = 0
        for result, _ in handled:
            want = _expected_name(expected or {}, result)
            if want is not _MISSING:
                judged += 1
                correct += result.name == want
        return Summary(
            results=len(handled),
            earlier=len(reported) - len(handled),
            by_status=dict(Counter(result.status for result, _ in handled)),
            malformed=malformed,
            failed=failed,
            judged=judged,
            correct=correct,
            upload_latency=LatencyStats.of([d.upload_latency_ms for _, d in handled]),
            capture_latency=LatencyStats.of([d.capture_latency_ms for _, d in handled]),
        )

    def _client_config(self) -> ClientConfig:
        """Reads must outlast a long poll; one pooled connection per thread."""
        return ClientConfig(read_timeout=self._config.wait_time_seconds + 10, max_pool_connections=self._threads + 2)

    def _read_poison_limit(self) -> int | None:
        """None if the queue has a redrive policy (SQS dead-letters), else max_malformed_receives."""
        try:
            attributes = self._sqs.get_queue_attributes(QueueUrl=self._queue_url, AttributeNames=["RedrivePolicy"]).get(
                "Attributes", {}
            )
        except (BotoCoreError, ClientError) as exc:
            raise ConfigError(f"cannot read results queue {self._queue_url}: {exc}") from exc
        return None if "RedrivePolicy" in attributes else self._config.max_malformed_receives

    def _check_idle(self) -> None:
        """Stop when nothing arrived for idle_timeout seconds."""
        idle = self._config.idle_timeout
        if idle is not None and time.monotonic() - self._last_activity > idle:
            logger.info("no message for %.1f s: stopping", idle)
            self.stop_event.set()

    def _poll(self) -> None:
        """One thread: receive a batch and report it message by message, until stopped."""
        poll_until_stopped(lambda: self._handle_batch(self._receive()), self.stop_event, self._queue_url)

    def _poll_wait(self) -> int:
        """WaitTimeSeconds of the next poll: the configured wait, cut to end by the idle deadline if there is one."""
        wait, idle = self._config.wait_time_seconds, self._config.idle_timeout
        if idle is None:
            return wait
        return max(0, min(wait, math.ceil(self._last_activity + idle - time.monotonic())))

    def _receive(self) -> list[dict[str, Any]]:
        """One long poll, unless idle for idle_timeout (which stops the consumer)."""
        self._check_idle()
        if self.stop_event.is_set():
            return []
        with self._lock:
            self._open_polls += 1
        try:
            response = self._sqs.receive_message(
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=self._config.max_messages,
                WaitTimeSeconds=self._poll_wait(),
                VisibilityTimeout=self._config.visibility_timeout,
                MessageSystemAttributeNames=["ApproximateReceiveCount"],
            )
        finally:
            with self._lock:
                self._open_polls -= 1
        return response.get("Messages", [])

    def _handle_batch(self, messages: list[dict[str, Any]]) -> None:
        """Report messages in order; once stopped, hand the rest back."""
        if messages:
            self._last_activity = time.monotonic()
        for index, message in enumerate(messages):
            if self.stop_event.is_set():
                release_messages(self._sqs, self._queue_url, messages[index:])
                return
            self._handle(message)

    def _handle(self, message: dict[str, Any]) -> None:
        """Parse, report, count, and only then delete one message."""
        received_at = utc_now()
        receive_count = int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1))
        try:
            result = Result.from_json(message["Body"])
        except MalformedResultError as exc:
            self._handle_malformed(message, receive_count, exc)
            return
        delivery = Delivery(
            message["MessageId"],
            receive_count,
            received_at,
            _ms(received_at - result.uploaded_at),
            _ms(received_at - result.captured_at),
        )
        again = self._delivered_again(delivery.message_id)
        if again == "reported":
            logger.info("result %s delivered again (message %s): already reported, deleted", result.frame_key,
                        delivery.message_id)
            self._delete(message)
            return
        if again == "reporting":
            release_messages(self._sqs, self._queue_url, [message])
            return
        if not self._claim():
            with self._lock:
                self._reporting.discard(delivery.message_id)
            release_messages(self._sqs, self._queue_url, [message])
            return
        if self._report(result, delivery):
            self._delete(message)

    def _delivered_again(self, message_id: str) -> str | None:
        """"reported" or "reporting" for a message this consumer reported or is reporting; else None, and from
        now on it is reporting it."""
        with self._lock:
            if message_id in self._reported:
                return "reported"
            if message_id in self._reporting:
                return "reporting"
            self._reporting.add(message_id)
            return None

    def _claim(self) -> bool:
        """Reserve one of max_results; False once all are taken."""
        with self._lock:
            if self._config.max_results is not None and self._claimed >= self._config.max_results:
                return False
            self._claimed += 1
            return True

    def _report(self, result: Result, delivery: Delivery) -> bool:
        """Call on_result and count the result; False (message kept) if the callback raised."""
        try:
            if self._on_result:
                self._on_result(result, delivery)
        except Exception:
            logger.exception("on_result failed for %s: the message will be redelivered", result.frame_key)
            with self._lock:
                self._reporting.discard(delivery.message_id)
                self._claimed -= 1
                self._failed += 1
            return False
        with self._lock:
            self._reporting.discard(delivery.message_id)
            self._reported.add(delivery.message_id)
            self._handled.append((result, delivery))
            if self._config.max_results is not None and len(self._handled) >= self._config.max_results:
                self.stop_event.set()
        return True

    def _handle_malformed(self, message: dict[str, Any], receive_count: int, exc: MalformedResultError) -> None:
        """Log a bad message; leave it for redelivery / the DLQ, or drop it after too many receives."""
        with self._lock:
            self._malformed += 1
        limit = self._poison_limit
        if limit is not None and receive_count >= limit:
            logger.error(
                "dropping malformed message %s after %d receives (queue has no redrive policy): %s; body: %r",
                message["MessageId"],
                receive_count,
                exc,
                message["Body"],
            )
            self._delete(message)
            return
        logger.warning(
            "malformed result message %s (receive %d): %s; left in the queue for redelivery or the DLQ",
            message["MessageId"],
            receive_count,
            exc,
        )

    def _delete(self, message: dict[str, Any]) -> None:
        """Delete a handled message; if that fails it comes back, and is deleted then (not reported again)."""
        try:
            self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
        except (BotoCoreError, ClientError) as exc:
            logger.warning("could not delete message %s (%s): it will be redelivered", message["MessageId"], exc)


def load_expected(path: Path) -> dict[str, str | None]:
    """Read an expected-names file: a JSON object {frame key | clip key | clip file name: name or null}.

    A result is judged against the first of its frame key, clip key and clip file name found in the
    file; null means "no face expected" (the result's name is null). Results not found are not judged.
    """
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read expected names from {path}: {exc}") from exc
    if not isinstance(data, dict) or not all(v is None or isinstance(v, str) for v in data.values()):
        raise ConfigError(f"{path} must be a JSON object mapping keys to a name or null")
    return data


def _expected_name(expected: Mapping[str, str | None], result: Result) -> object:
    """The expected name of a result by frame key, clip key or clip file name; _MISSING if none."""
    for key in (result.frame_key, result.clip_key, PurePosixPath(result.clip_key).name):
        if key in expected:
            return expected[key]
    return _MISSING


def _ms(delta: timedelta) -> float:
    """A timedelta in milliseconds."""
    return delta.total_seconds() * 1000
