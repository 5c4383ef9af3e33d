"""SQS: what the emulator changes in moto's SQS (5.2.5, pinned).

- FIFO order after a failure and FIFO sequence numbers (`_forget_timed_out_receives`, `_one_instant`,
  `_next_sequence_number`);
- `Queue.add_message`: moto deduplicates FIFO messages only against messages still in the queue; SQS remembers
  a deduplication id for 5 minutes even after the message was deleted
  (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/using-messagededuplicationid-property.html);
- `Queue.add_message`, `Queue.delete_message`, `SQSBackend.receive_message`: moto's SQS takes no lock, so
  concurrent receives hand one message to two consumers, and a delete racing a send drops the new message; we
  serialise them per queue (a long poll waits outside the lock);
- `sqs.models.unix_time_millis`: moto asks it twice per queued message on every send, receive and attribute read
  (datetime arithmetic: ~20 us each, 2-7 ms per send with a few hundred messages queued); the same clock read as
  `time.time()`;
- `Queue.create_from_cloudformation_json`: a template's FIFO queue without a QueueName gets CloudFormation's
  generated name with the `.fifo` suffix a FIFO queue's name needs; moto generated it without the suffix and the
  stack failed (CloudFormation has named it so since 2017: troposphere#931). Not shortened: a generated name over
  SQS's 80 characters fails the stack, as on AWS (cloudformation-coverage-roadmap#280);
- `SQSBackend.create_queue`, `.set_queue_attributes`: a numeric attribute outside SQS's range is
  `InvalidAttributeValue` "Invalid value for the parameter VisibilityTimeout." (moto stored any value):
  https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html;
- `SQSResponse.receive_message`: MaxNumberOfMessages outside 1-10, WaitTimeSeconds outside 0-20 or
  VisibilityTimeout outside 0-43,200 is `InvalidParameterValue` "Value 11 for parameter MaxNumberOfMessages is
  invalid. Reason: Must be between 1 and 10, if provided." (moto prefixed its message with a second "An error
  occurred ..." and inverted WaitTimeSeconds' range; it took a negative VisibilityTimeout):
  https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html;
- `SQSBackend._validate_message` (SendMessage, and every entry of SendMessageBatch before any is sent): an empty
  body is `MissingParameter` "The request must contain the parameter MessageBody." ("The minimum size is one
  character", https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html); moto
  queued it. The fast path's sends (emulator/aws/fast_path.py) call moto's send, so they are refused here too;
- state: messages in flight at a restart are visible again; receipt handles of deleted messages are forgotten
  after one to two retention sweeps (moto keeps every one, so a second delete succeeds).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import moto.sqs.models as sqs_models
from moto.sqs.exceptions import InvalidAttributeValue, InvalidParameterValue, MissingParameter
from moto.sqs.models import DEDUPLICATION_TIME_IN_SECONDS, Queue, SQSBackend, sqs_backends
from moto.sqs.responses import SQSResponse

from emulator.aws.registry import Internal, Patch

_DEDUP_ATTRIBUTE = "_emulator_deduplication_history"
_SEQUENCE_ATTRIBUTE = "_emulator_last_sequence_number"
_LOCK_ATTRIBUTE = "_emulator_lock"
_RECEIVE_POLL_SECONDS = 0.05
_look = threading.local()  # now_ms: the one instant of this thread's look at a queue (_one_instant)

ADD_MESSAGE = Internal(Queue, "add_message", ("self", "message"),
                       source="self.lambda_event_source_mappings.items()")
DELETE_MESSAGE = Internal(Queue, "delete_message", ("self", "receipt_handle"))
RECEIVE_MESSAGE = Internal(SQSBackend, "receive_message", ("self", "queue_name", "count", "wait_seconds_timeout",
                                                           "visibility_timeout", "message_attribute_names"))
CLOCK = Internal(sqs_models, "unix_time_millis", ("dt",))
MESSAGES = Internal(Queue, "__init__", ("self", "name", "region", "account_id"), source="self._messages")
CREATE_QUEUE = Internal(SQSBackend, "create_queue", ("self", "name", "tags"))
SET_ATTRIBUTES = Internal(SQSBackend, "set_queue_attributes", ("self", "queue_name", "attributes"))
# SetQueueAttributes' ranges (the maximum message size raised from 256 KiB to 1 MiB in 2025).
ATTRIBUTE_RANGES = {"DelaySeconds": (0, 900), "MaximumMessageSize": (1024, 1_048_576),
                    "MessageRetentionPeriod": (60, 1_209_600), "ReceiveMessageWaitTimeSeconds": (0, 20),
                    "VisibilityTimeout": (0, 43_200)}
RECEIVE_REQUEST = Internal(SQSResponse, "receive_message", ("self",), source="MaxNumberOfMessages is invalid")
# ReceiveMessage's ranges, each with SQS's reason for a value outside it (SQS's words in public traces).
_BOUNDS_REASON = "Must be >= {low} and <= {high}, if provided."
RECEIVE_RANGES = {
    "MaxNumberOfMessages": (1, 10, "Must be between {low} and {high}, if provided."),
    "WaitTimeSeconds": (*ATTRIBUTE_RANGES["ReceiveMessageWaitTimeSeconds"], _BOUNDS_REASON),
    "VisibilityTimeout": (*ATTRIBUTE_RANGES["VisibilityTimeout"], _BOUNDS_REASON),
}
VALIDATE_MESSAGE = Internal(SQSBackend, "_validate_message", ("self", "queue", "message_body"))
QUEUE_FROM_TEMPLATE = Internal(Queue, "create_from_cloudformation_json",
                               ("cls", "resource_name", "cloudformation_json", "account_id"))
INTERNALS = (ADD_MESSAGE, DELETE_MESSAGE, RECEIVE_MESSAGE, CLOCK, MESSAGES, QUEUE_FROM_TEMPLATE, CREATE_QUEUE,
             SET_ATTRIBUTES, RECEIVE_REQUEST, VALIDATE_MESSAGE)
FIFO_SUFFIX = ".fifo"


def patches() -> list[Patch]:
    return [
        Patch(ADD_MESSAGE, _deduplicating_for_five_minutes),
        Patch(CLOCK, _fast_unix_time_millis),
        Patch(DELETE_MESSAGE, _under_queue_lock),
        Patch(RECEIVE_MESSAGE, _receiving_under_queue_lock),
        Patch(QUEUE_FROM_TEMPLATE, _fifo_named_from_template),
        Patch(CREATE_QUEUE, _created_with_valid_attributes),
        Patch(SET_ATTRIBUTES, _set_with_valid_attributes),
        Patch(RECEIVE_REQUEST, _receiving_within_ranges),
        Patch(VALIDATE_MESSAGE, _refusing_an_empty_body),
    ]


def check_attributes(attributes: dict[str, Any]) -> None:
    """Raises InvalidAttributeValue for a numeric queue attribute outside SQS's range (or not a whole number)."""
    for name, (low, high) in ATTRIBUTE_RANGES.items():
        if name in attributes and not _whole_number_within(attributes[name], low, high):
            raise InvalidAttributeValue(name)


def _check_receive_request(parameters: dict[str, Any]) -> None:
    """Raises InvalidParameterValue, with SQS's reason, for a ReceiveMessage parameter outside its range."""
    for name, (low, high, reason) in RECEIVE_RANGES.items():
        value = parameters.get(name)
        if value is not None and not _whole_number_within(value, low, high):
            raise InvalidParameterValue(f"Value {value} for parameter {name} is invalid. Reason: "
                                        f"{reason.format(low=low, high=high)}")


def _whole_number_within(value: Any, low: int, high: int) -> bool:
    try:
        return low <= int(str(value)) <= high
    except ValueError:
        return False


def _receiving_within_ranges(original: Callable[[SQSResponse], Any]) -> Callable[[SQSResponse], Any]:
    def receive_message(response: SQSResponse) -> Any:
        _check_receive_request({name: response._get_param(name) for name in RECEIVE_RANGES})
        return original(response)

    return receive_message


def _refusing_an_empty_body(original: Callable[..., None]) -> Callable[..., None]:
    def validate_message(backend: SQSBackend, queue: Queue, message_body: str, *args: Any, **kwargs: Any) -> None:
        if not message_body:
            raise MissingParameter("MessageBody")
        original(backend, queue, message_body, *args, **kwargs)

    return validate_message


def _created_with_valid_attributes(original: Callable[..., Queue]) -> Callable[..., Queue]:
    def create_queue(backend: SQSBackend, name: str, tags: dict[str, str] | None = None, **attributes: Any) -> Queue:
        check_attributes(attributes)
        return original(backend, name, tags, **attributes)

    return create_queue


def _set_with_valid_attributes(original: Callable[..., Queue]) -> Callable[..., Queue]:
    def set_queue_attributes(backend: SQSBackend, queue_name: str, attributes: dict[str, Any]) -> Queue:
        check_attributes(attributes)
        return original(backend, queue_name, attributes)

    return set_queue_attributes


def _fifo_named_from_template(original: Callable[..., Queue]) -> Callable[..., Queue]:
    def create(cls: type, resource_name: str, cloudformation_json: dict[str, Any], *args: Any, **kwargs: Any
               ) -> Queue:
        properties = cloudformation_json.get("Properties") or {}
        if str(properties.get("FifoQueue")).lower() == "true" and "QueueName" not in properties:
            resource_name = f"{resource_name}{FIFO_SUFFIX}"
        return original(cls, resource_name, cloudformation_json, *args, **kwargs)

    return create


def message_count() -> int:
    """Messages every queue holds, visible or in flight."""
    return sum(len(queue._messages) for queue in _queues())


def detach_lambda_mappings() -> None:
    """moto invokes a queue's mapped functions inside SendMessage, one receive per send; our Lambda service polls
    instead (emulator/lambda_runtime/event_sources.py), so no queue keeps moto's registration."""
    for queue in _queues():
        queue.lambda_event_source_mappings.clear()


def visibility_timeout(queue_arn: str) -> int | None:
    """The queue's VisibilityTimeout in seconds, None when no queue has that ARN."""
    for queue in _queues():
        if queue.queue_arn == queue_arn:
            return int(queue.visibility_timeout)
    return None


def release_in_flight_messages() -> None:
    """Messages received but not deleted before a restart are visible again (their consumers are gone)."""
    for queue in _queues():
        for message in queue._messages:
            message.visible_at = 0.0
        queue.pending_messages.clear()


@dataclass
class ReceiptAging:
    """The receipt handles of deleted messages seen at the last sweep, per queue: forgotten at the next one."""

    seen: dict[int, set[str]] = field(default_factory=dict)

    def age(self, backend: SQSBackend) -> int:
        """Forgets the handles seen last time; returns how many."""
        forgotten = 0
        for queue in list(backend.queues.values()):
            old = self.seen.get(id(queue), set())
            queue.deleted_messages.difference_update(old)
            forgotten += len(old)
            self.seen[id(queue)] = set(queue.deleted_messages)
        return forgotten


def _queues() -> list[Queue]:
    return [queue for regions in list(sqs_backends.values()) for backend in list(regions.values())
            for queue in list(backend.queues.values())]


def _fast_unix_time_millis(original: Callable[..., float]) -> Callable[..., float]:
    def unix_time_millis(dt: Any = None) -> float:
        if dt is not None:
            return original(dt)
        frozen = getattr(_look, "now_ms", None)
        return time.time() * 1000.0 if frozen is None else frozen

    return unix_time_millis


@contextmanager
def _one_instant() -> Iterator[None]:
    """The clock stands still for this thread while a receive looks at the queue: moto reads it again for each
    message (is it visible? its group in flight?), and a group whose messages became visible between two reads had
    its first message skipped (the second still in flight) and then its second handed out alone, ahead of it. SQS
    keeps a group's order (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/
    FIFO-queues-understanding-logic.html)."""
    _look.now_ms = time.time() * 1000.0
    try:
        yield
    finally:
        _look.now_ms = None


def _deduplicating_for_five_minutes(original: Any) -> Any:
    def add_message(queue: Queue, message: Any) -> None:
        dedup_id = getattr(message, "deduplication_id", None)
        with _queue_lock(queue):
            if queue.fifo_queue and dedup_id:
                now = message.sent_timestamp
                history = queue.__dict__.setdefault(_DEDUP_ATTRIBUTE, {})
                for seen_id, sent in list(history.items()):
                    if (now - sent) / 1000 >= DEDUPLICATION_TIME_IN_SECONDS:
                        del history[seen_id]
                if dedup_id in history:
                    return
                history[dedup_id] = now
                message.sequence_number = _next_sequence_number(queue)
            original(queue, message)

    return add_message


def _next_sequence_number(queue: Queue) -> str:
    """A FIFO message's SequenceNumber: 20 digits that "continue to increase for a particular MessageGroupId"
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html); moto draws 20
    random digits. Here they increase across the queue, from the clock, so also across restarts."""
    last = queue.__dict__.get(_SEQUENCE_ATTRIBUTE, 0)
    number = max(last + 1, time.time_ns() // 10)
    queue.__dict__[_SEQUENCE_ATTRIBUTE] = number
    return f"{number:020d}"


def _forget_timed_out_receives(queue: Queue) -> None:
    """moto keeps a received message "pending" (its FIFO group blocked) until a receive walks past it visible
    again, one message per receive: a group's re-visible messages came back last-first. All that are visible again
    are forgotten before each look, so the group's order holds, as SQS keeps it
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-queues-understanding-logic.html)."""
    queue.pending_messages.difference_update([m for m in queue.pending_messages if m.visible])


def _queue_lock(queue: Queue) -> threading.RLock:
    """The queue's own lock (dict.setdefault is atomic, so two threads never get different locks)."""
    return queue.__dict__.setdefault(_LOCK_ATTRIBUTE, threading.RLock())


def _under_queue_lock(original: Any) -> Any:
    def locked(queue: Queue, *args: Any, **kwargs: Any) -> Any:
        with _queue_lock(queue):
            return original(queue, *args, **kwargs)

    return locked


def _receiving_under_queue_lock(original: Any) -> Any:
    """Each look at the queue holds its lock; a long poll waits between looks."""

    def receive_message(backend: SQSBackend, queue_name: str, count: int, wait_seconds_timeout: int,
                        visibility_timeout: int, message_attribute_names: list[str] | None = None) -> list[Any]:
        queue = backend.get_queue(queue_name)
        deadline = time.monotonic() + (wait_seconds_timeout or 0)
        while True:
            with _queue_lock(queue), _one_instant():
                _forget_timed_out_receives(queue)
                received = original(backend, queue_name, count, 0, visibility_timeout, message_attribute_names)
            remaining = deadline - time.monotonic()
            if received or remaining <= 0:
                return received
            if queue.messages:  # visible, but its FIFO group is in flight: look again shortly
                time.sleep(min(remaining, _RECEIVE_POLL_SECONDS))
            else:
                queue.wait_for_messages(min(remaining, _RECEIVE_POLL_SECONDS))  # type: ignore[arg-type]

    return receive_message
