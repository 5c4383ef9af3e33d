"""The hot API calls (S3 PUT/GET/HEAD, SQS send/receive/delete, DynamoDB PutItem/GetItem) off moto's slow path.

moto stays the owner of state and of every byte of every answer; these patches only remove work it repeats per
request, found by profiling each call end to end (tests/emulator/test_fast_path.py sends the same requests with
and without them and compares the answers byte for byte):

- cheroot's socket files: pure-Python `_pyio` buffers in place of C reads (emulator/aws/cheroot.py);
- `moto.core.responses.method_names_from_class`: `inspect.getmembers` of the service's response class on every
  request, to learn which actions it has; a class's answer is computed once;
- `camelcase_to_underscores`, as moto's request dispatch and SQS's queue attributes call it (~15 times a request,
  a character loop each): a pure function of its string, remembered;
- SQS's `Queue.approximate_number_of_messages*`: moto's SendMessage reads every attribute of the queue (to learn
  ContentBasedDeduplication), which scanned every queued message three times with two clock reads and two
  property calls per message; now one clock read a scan, over moto's own fields (`visible_at`, `delayed_until`)
  with moto's comparisons (emulator/aws/sqs.py's clock patch keeps `unix_time_millis` the clock).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

import moto.core.responses as core_responses
import moto.sqs.models as sqs_models
from moto.sqs.models import Queue

from emulator.aws import cheroot
from emulator.aws.registry import Internal, Patch, PatchRegistry

CAMEL_CASE_NAMES = 4096  # distinct names remembered: every action and attribute name of the services in use

METHOD_NAMES = Internal(core_responses, "method_names_from_class", ("clazz",))
ACTIONS_LOOKED_UP = Internal(core_responses.BaseResponse, "call_action", ("self",),
                             source="method_names = method_names_from_class(self.__class__)")
DISPATCH_NAMES = Internal(core_responses, "camelcase_to_underscores", ("argument",))
SQS_NAMES = Internal(sqs_models, "camelcase_to_underscores", ("argument",))
QUEUED = Internal(Queue, "approximate_number_of_messages", ("self",), source="len(self.messages)")
IN_FLIGHT = Internal(Queue, "approximate_number_of_messages_not_visible", ("self",),
                     source="if not m.visible")
DELAYED = Internal(Queue, "approximate_number_of_messages_delayed", ("self",), source="if m.delayed")
VISIBLE = Internal(sqs_models.Message, "visible", ("self",), source="if current_time > self.visible_at")
NOT_DELAYED = Internal(sqs_models.Message, "delayed", ("self",), source="if current_time < self.delayed_until")
LISTED = Internal(Queue, "messages", ("self",), source="if message.visible and not message.delayed")
INTERNALS = (METHOD_NAMES, ACTIONS_LOOKED_UP, DISPATCH_NAMES, SQS_NAMES, QUEUED, IN_FLIGHT, DELAYED, VISIBLE,
             NOT_DELAYED, LISTED)


class FastPath:
    """Installs the patches once a process (every API server shares moto); uninstall() puts moto's own back."""

    def __init__(self) -> None:
        self._registry = PatchRegistry()
        self._lock = threading.Lock()
        self.installed = False

    def install(self) -> None:
        with self._lock:
            if not self.installed:
                self._registry.install([*cheroot.socket_file_patches(), *_moto_patches()])
                self.installed = True

    def uninstall(self) -> None:
        with self._lock:
            self._registry.uninstall()
            self.installed = False


FAST_PATH = FastPath()


def _moto_patches() -> list[Patch]:
    remembered: Callable[[Any], Any] = functools.lru_cache(maxsize=CAMEL_CASE_NAMES)
    return [
        Patch(METHOD_NAMES, _per_class),
        Patch(DISPATCH_NAMES, remembered),
        Patch(SQS_NAMES, remembered),
        Patch(QUEUED, lambda _: _queued),
        Patch(IN_FLIGHT, lambda _: _in_flight),
        Patch(DELAYED, lambda _: _delayed),
    ]


def _per_class(original: Callable[[object], list[str]]) -> Callable[[object], list[str]]:
    """method_names_from_class once a class (the response classes are patched before the first request)."""
    names: dict[object, list[str]] = {}

    def method_names_from_class(clazz: object) -> list[str]:
        if clazz not in names:
            names[clazz] = original(clazz)
        return names[clazz]

    return method_names_from_class


def _queued(queue: Queue) -> int:
    """moto's `len(queue.messages)`: visible and not delayed."""
    now = sqs_models.unix_time_millis()
    return sum(1 for m in queue._messages if now > m.visible_at and not now < m.delayed_until)


def _in_flight(queue: Queue) -> int:
    """moto's count of messages not visible."""
    now = sqs_models.unix_time_millis()
    return sum(1 for m in queue._messages if not now > m.visible_at)


def _delayed(queue: Queue) -> int:
    """moto's count of delayed messages."""
    now = sqs_models.unix_time_millis()
    return sum(1 for m in queue._messages if now < m.delayed_until)
