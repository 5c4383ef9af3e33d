"""moto internals patched so its state lives on disk and its memory stays flat (the Lambda hooks are in moto_hooks).

moto 5.2.5 (pinned) keeps everything in the server's memory, forever:
- `BaseModel.__new__` appends every model instance ever made (each S3 key, SQS message, log event, metric
  datum...) to a class-level `instances_tracked` list, used only by moto's dashboard: deleted objects are never
  freed. We create instances untracked (the dashboard's `/moto-api/data.json` lists none);
- `FakeKey.__init__`: an object's body is a `SpooledTemporaryFile` held in memory up to 5 MB; ours is a file in
  the state folder (`emulator.state.DiskBody`), deleted when the key is disposed of (after the next snapshot);
- `S3Backend.put_object_tagging`: every PUT stores an empty tag set under the key's ARN, never removed; an
  empty set is not stored;
- `LogStream.__init__`, `LogStream._update`: a stream's events are a list of objects; ours are a JSON-lines
  file (`emulator.state.EventLog`) with only counts and first/last timestamps in memory;
- `FakeBucket.create_from_cloudformation_json`: moto's CloudFormation drops a bucket's LifecycleConfiguration;
  we apply it, so the retention sweep (emulator/retention.py) can honour it.
`verify_state_internals` fails loudly when an upgrade moves any of these.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from typing import Any

from moto.core.common_models import BaseModel
from moto.logs.models import LogStream
from moto.s3.models import FakeBucket, FakeKey, S3Backend

from emulator.errors import EmulatorError
from emulator.state import EventLog, StateStore

_EXPECTED_SIGNATURES = {
    "FakeKey.__init__": (FakeKey, "__init__", ["self", "name", "value", "account_id", "region_name"]),
    "FakeKey.dispose": (FakeKey, "dispose", ["self", "garbage"]),
    "S3Backend.put_object_tagging": (S3Backend, "put_object_tagging", ["self", "key", "tags"]),
    "LogStream.__init__": (LogStream, "__init__", ["self", "log_group", "name"]),
    "LogStream._update": (LogStream, "_update", ["self"]),
    "FakeBucket.create_from_cloudformation_json": (FakeBucket, "create_from_cloudformation_json",
                                                   ["resource_name", "cloudformation_json"]),
}
_EXPECTED_SOURCES = {
    "BaseModel.__new__ tracks instances": (BaseModel.__new__, "instances_tracked.append"),
    "FakeKey keeps its body in _value_buffer": (FakeKey.__init__, "self._value_buffer = "),
    "FakeKey.dispose closes _value_buffer": (FakeKey.dispose, "self._value_buffer.close()"),
    "LogStream keeps events in self.events": (LogStream.__init__, "self.events"),
}


def verify_state_internals() -> None:
    """Raises EmulatorError when the moto internals patched here are missing or changed shape."""
    for label, (owner, attribute, params) in _EXPECTED_SIGNATURES.items():
        target = getattr(owner, attribute, None)
        if target is None:
            raise EmulatorError(f"moto internal {label} is gone: the state hooks need updating")
        if list(inspect.signature(target).parameters)[: len(params)] != params:
            raise EmulatorError(f"moto internal {label} changed its signature: the state hooks need updating")
    for label, (function, text) in _EXPECTED_SOURCES.items():
        if text not in inspect.getsource(function):
            raise EmulatorError(f"moto internal changed: {label} no longer holds; the state hooks need updating")


class StateHooks:
    """Installs and removes the patches above for one state store."""

    def __init__(self, store: StateStore) -> None:
        self._store = store
        self._undo: list[Callable[[], None]] = []

    def install(self) -> None:
        verify_state_internals()
        self._patch(BaseModel, "__new__", staticmethod(_untracked_new))
        self._patch(FakeKey, "__init__", self._key_on_disk(FakeKey.__init__))
        self._patch(S3Backend, "put_object_tagging", _no_empty_tag_sets(S3Backend.put_object_tagging))
        self._patch(LogStream, "__init__", self._events_on_disk(LogStream.__init__))
        self._patch(LogStream, "_update", _update_from_bounds)
        self._patch(FakeBucket, "create_from_cloudformation_json", _cloudformation_bucket_with_lifecycle())

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()

    def _patch(self, owner: Any, attribute: str, replacement: Any) -> None:
        original = owner.__dict__[attribute]
        self._undo.append(lambda: setattr(owner, attribute, original))
        setattr(owner, attribute, replacement)

    def _key_on_disk(self, original: Any) -> Any:
        blobs = self._store.blobs

        def init(key: FakeKey, name: str, value: bytes, *args: Any, **kwargs: Any) -> None:
            original(key, name, b"", *args, **kwargs)
            key._value_buffer.close()
            key._value_buffer = blobs.new()
            key.value = value  # type: ignore[method-assign]

        return init

    def _events_on_disk(self, original: Any) -> Any:
        folder = self._store.logs

        def init(stream: LogStream, log_group: Any, name: str) -> None:
            original(stream, log_group, name)
            stream.events = EventLog(folder, hashlib.sha256(stream.arn.encode()).hexdigest()[:32])  # type: ignore[assignment]

        return init


def _untracked_new(cls: type, *args: Any, **kwargs: Any) -> Any:
    return super(BaseModel, cls).__new__(cls)  # type: ignore[misc]


def _no_empty_tag_sets(original: Any) -> Any:
    def put_object_tagging(backend: S3Backend, key: FakeKey, tags: dict[str, str] | None) -> FakeKey:
        result = original(backend, key, tags)
        if not backend.tagger.tags.get(key.arn, True):
            backend.tagger.tags.pop(key.arn, None)
        return result

    return put_object_tagging


def _update_from_bounds(stream: LogStream) -> None:
    events: EventLog = stream.events  # type: ignore[assignment]
    stream.first_event_timestamp = events.first_timestamp  # type: ignore[assignment]
    stream.last_event_timestamp = events.last_timestamp  # type: ignore[assignment]


def _cloudformation_bucket_with_lifecycle() -> Any:
    original = FakeBucket.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create(cls: type, resource_name: str, cloudformation_json: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        bucket = original(cls, resource_name, cloudformation_json, *args, **kwargs)
        rules = cloudformation_json.get("Properties", {}).get("LifecycleConfiguration", {}).get("Rules") or []
        if rules:
            bucket.set_lifecycle([_api_lifecycle_rule(rule) for rule in rules])
        return bucket

    return classmethod(create)


def _api_lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule in the PutBucketLifecycleConfiguration shape moto's model reads."""
    api: dict[str, Any] = {"ID": rule.get("Id"), "Status": rule.get("Status", "Enabled")}
    if "Prefix" in rule:
        api["Prefix"] = rule["Prefix"]
    if "Filter" in rule or "Prefix" not in rule:
        api["Filter"] = rule.get("Filter") or {"Prefix": ""}
    if "ExpirationInDays" in rule:
        api["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    return api
