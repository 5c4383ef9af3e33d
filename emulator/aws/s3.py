"""S3: what the emulator changes in moto's S3 (5.2.5, pinned), and S3's lifecycle expiry.

- `s3.notifications._invoke_awslambda`: S3 -> Lambda notifications become async invocations of our service;
- `s3.notifications._get_s3_event`: records get AWS's full shape (event version 2.1, `aws_record`): the shape is
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
  (tests/events/s3-object-created-put.json is its example, the reference the fidelity tests compare against);
- `S3Backend.put_bucket_notification_configuration` and a template's bucket: two configurations that could both
  match one event of one key are refused (InvalidArgument "Configuration is ambiguously defined..."), as are
  destinations S3 may not deliver to;
- `S3Backend.put_object`: the object CompleteMultipartUpload assembles also fired `ObjectCreated:Put`; S3 sends
  only `ObjectCreated:CompleteMultipartUpload`;
- `FakeBucket.create_from_cloudformation_json`: moto's CloudFormation drops a bucket's NotificationConfiguration
  and LifecycleConfiguration; we apply both as the bucket is created, as AWS does (an object PUT while the rest
  of the stack is still being created is not left without its event);
- `FakeKey.__init__` (state): an object's body is a file in the state folder (`emulator.state.DiskBody`, written
  after the PUT's response, read from memory until then: emulator/state.py's BlobStore), not an in-memory
  `SpooledTemporaryFile` of up to 5 MB; and each key is a `CompactKey` (moto's FakeKey with the values
  most keys share as class attributes): its own dict holds only what differs from them, ~14 entries instead of 35
  (~0.6 KB instead of 1.6 KB), and its account, bucket and region names are the one interned copy;
- `LowercaseDict._keytransform` (state): an object's metadata names (`content-type`, `x-amz-meta-...`) are
  interned, one copy for every key instead of a new lower-cased string per key and name;
- `S3Backend.put_object_tagging` (state): every PUT stored an empty tag set under the key's ARN, never removed;
  an empty set is not stored;
- `S3Backend.create_bucket`: a name S3's naming rules refuse is `InvalidBucketName` (moto checked only the length,
  so `MyBucket` or `cse546_input` worked here and failed on AWS):
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html;
- `S3Response._bucket_response_delete_keys`: DeleteObjects with `<Quiet>true</Quiet>` answers only the keys it
  could not delete, as S3 does ("In quiet mode, the response includes only keys for which the delete operation
  encountered an error", https://docs.aws.amazon.com/AmazonS3/latest/userguide/delete-multiple-objects.html);
  moto listed every deleted key whatever the mode.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import logging
import re
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote_plus
from xml.parsers.expat import ExpatError

import moto.s3.notifications as s3_notifications
import xmltodict
from moto.core.responses import ActionResult
from moto.s3.exceptions import InvalidArgumentError, InvalidBucketName
from moto.s3.models import FakeBucket, FakeKey, S3Backend
from moto.s3.responses import S3Response
from moto.settings import get_s3_default_key_buffer_size
from moto.utilities.utils import LowercaseDict, md5_hash

from emulator.aws.policies import resource_policy
from emulator.aws.registry import Internal, Patch
from emulator.aws.resource_policy import service_allowed
from emulator.state import BlobStore

logger = logging.getLogger(__name__)

SOURCE_IP = "127.0.0.1"  # the emulator binds loopback only, so every request comes from this machine
_sequence = itertools.count(time.time_ns())  # next() on a count is atomic: sequencers never repeat or go back


def aws_record(record: dict[str, Any], account_id: str, key_name: str, version_id: str | None) -> dict[str, Any]:
    """`record` with what moto leaves out: who, from where, S3's request ids, the owner and the sequencer.

    The key is URL-encoded as S3 encodes it (spaces as '+', '/' kept); `versionId` is there only when the
    bucket is versioned, as on AWS.
    """
    s3 = record["s3"]
    obj: dict[str, Any] = {"key": quote_plus(key_name, safe="/"), "size": s3["object"]["size"],
                           "eTag": s3["object"]["eTag"]}
    if version_id:
        obj["versionId"] = version_id
    obj["sequencer"] = f"{next(_sequence):018X}"
    return {
        **{field: record[field] for field in ("eventVersion", "eventSource", "awsRegion", "eventTime", "eventName")},
        "userIdentity": {"principalId": f"AWS:AIDA{_account_code(account_id, 17)}"},
        "requestParameters": {"sourceIPAddress": SOURCE_IP},
        "responseElements": {"x-amz-request-id": secrets.token_hex(8).upper(),
                             "x-amz-id-2": base64.b64encode(secrets.token_bytes(48)).decode()},
        "s3": {
            "s3SchemaVersion": s3["s3SchemaVersion"],
            "configurationId": s3["configurationId"],
            "bucket": {"name": s3["bucket"]["name"],
                       "ownerIdentity": {"principalId": f"A{_account_code(account_id, 13)}"},
                       "arn": s3["bucket"]["arn"]},
            "object": obj,
        },
    }


def _account_code(account_id: str, length: int) -> str:
    """A stable upper-case id derived from the account, shaped like AWS's principal ids."""
    return base64.b32encode(hashlib.sha256(account_id.encode()).digest()).decode()[:length]


INVOKE_LAMBDA = Internal(s3_notifications, "_invoke_awslambda", ("account_id", "event_body", "fn_arn", "region_name"))
SEND_EVENT_CALLS_INVOKE = Internal(s3_notifications, "send_event", source="_invoke_awslambda(")
EVENT_RECORD = Internal(s3_notifications, "_get_s3_event", ("event_name", "bucket", "key", "notification_id"))
PUT_OBJECT = Internal(S3Backend, "put_object", ("self", "bucket_name", "key_name", "value"))
MULTIPART_PUT = Internal(S3Backend, "complete_multipart_upload", source="multipart=multipart")
BUCKET_FROM_TEMPLATE = Internal(FakeBucket, "create_from_cloudformation_json",
                                ("cls", "resource_name", "cloudformation_json", "account_id"))
SET_NOTIFICATIONS = Internal(FakeBucket, "set_notification_configuration", ("self", "notification_config"))
KEY_INIT = Internal(FakeKey, "__init__", ("self", "name", "value", "account_id", "region_name"),
                    source="self._value_buffer = ")
KEY_DISPOSE = Internal(FakeKey, "dispose", ("self", "garbage"), source="self._value_buffer.close()")
KEY_ETAG = Internal(FakeKey, "etag", ("self",), source="self._etag = value_md5.hexdigest()")  # set at init instead
PUT_TAGGING = Internal(S3Backend, "put_object_tagging", ("self", "key", "tags"))
METADATA_NAME = Internal(LowercaseDict, "_keytransform", ("self", "key"), source="key.lower()")
PUT_NOTIFICATIONS = Internal(S3Backend, "put_bucket_notification_configuration",
                             ("self", "bucket_name", "notification_config"))
CREATE_BUCKET = Internal(S3Backend, "create_bucket", ("self", "bucket_name", "region_name"))
DELETE_KEYS = Internal(S3Response, "_bucket_response_delete_keys", ("self", "bucket_name"),
                       source='"Deleted": deleted_objects')
INTERNALS = (INVOKE_LAMBDA, SEND_EVENT_CALLS_INVOKE, EVENT_RECORD, PUT_OBJECT, MULTIPART_PUT, BUCKET_FROM_TEMPLATE,
             SET_NOTIFICATIONS, KEY_INIT, KEY_DISPOSE, KEY_ETAG, PUT_TAGGING, METADATA_NAME, PUT_NOTIFICATIONS,
             DELETE_KEYS, CREATE_BUCKET)
UNVALIDATED_DESTINATIONS = "Unable to validate the following destination configurations"
AMBIGUOUS_NOTIFICATIONS = ("Configuration is ambiguously defined. Cannot have overlapping suffixes in two rules if the "
                           "prefixes are overlapping for the same event type.")
_DESTINATIONS = (("CloudFunctionConfiguration", "CloudFunction", "lambda:InvokeFunction"),
                 ("QueueConfiguration", "Queue", "sqs:SendMessage"),
                 ("TopicConfiguration", "Topic", "sns:Publish"))


def notification_patches(notify_function: Callable[[str, bytes], None]) -> list[Patch]:
    """S3 events as AWS delivers them: to our Lambda service, asynchronously, in AWS's shape, once per upload."""
    return [
        Patch(INVOKE_LAMBDA, lambda _: _notifying(notify_function)),
        Patch(EVENT_RECORD, _aws_shaped_s3_event),
        Patch(PUT_OBJECT, _one_event_per_multipart_upload),
        Patch(BUCKET_FROM_TEMPLATE, _bucket_from_template),
        Patch(PUT_NOTIFICATIONS, _validating_destinations),
        Patch(DELETE_KEYS, _quiet_deletes),
    ]


# General purpose buckets: 3-63 characters of lowercase letters, digits, dots and hyphens, beginning and ending with
# a letter or digit; no two adjacent dots; not an IP address; none of the reserved prefixes and suffixes.
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP_ADDRESS = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def valid_bucket_name(name: str) -> bool:
    """Whether S3 lets a general purpose bucket have this name."""
    return (bool(_BUCKET_NAME.match(name)) and ".." not in name and not _IP_ADDRESS.match(name)
            and not name.startswith(_RESERVED_PREFIXES) and not name.endswith(_RESERVED_SUFFIXES))


def naming_patches() -> list[Patch]:
    return [Patch(CREATE_BUCKET, _refusing_invalid_names)]


def _refusing_invalid_names(original: Any) -> Any:
    def create_bucket(backend: S3Backend, bucket_name: str, *args: Any, **kwargs: Any) -> FakeBucket:
        if not valid_bucket_name(bucket_name):
            raise InvalidBucketName()
        return original(backend, bucket_name, *args, **kwargs)

    return create_bucket


def state_patches(blobs: BlobStore) -> list[Patch]:
    """Object bodies as files of the state folder, compact keys; no empty tag sets kept."""
    return [Patch(KEY_INIT, lambda original: _key_on_disk(original, blobs)),
            Patch(PUT_TAGGING, _no_empty_tag_sets),
            Patch(METADATA_NAME, lambda _: _interned_metadata_name)]


def _notifying(notify_function: Callable[[str, bytes], None]) -> Callable[..., None]:
    def invoke_awslambda(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
        try:
            notify_function(fn_arn, json.dumps(event_body).encode())
        except Exception:  # S3 delivers events asynchronously: a failure here must not fail the PUT
            logger.exception("S3 notification for %s could not be delivered", fn_arn)

    return invoke_awslambda


def _quiet_deletes(original: Any) -> Any:
    def delete_keys(response: S3Response, bucket_name: str, *args: Any, **kwargs: Any) -> Any:
        if not _asks_quiet(response.body):
            return original(response, bucket_name, *args, **kwargs)
        verbose = response.serialized
        response.serialized = lambda result: verbose(ActionResult({**result.result, "Deleted": []}))  # type: ignore
        try:
            return original(response, bucket_name, *args, **kwargs)
        finally:
            del response.serialized

    return delete_keys


def _asks_quiet(body: str | bytes) -> bool:
    """Whether a DeleteObjects body says <Quiet>true</Quiet>; a body that is not XML is left to moto to refuse."""
    try:
        request = xmltodict.parse(body)
    except ExpatError:  # moto answers MalformedXML for it
        return False
    delete = request.get("Delete") if isinstance(request, dict) else None
    return isinstance(delete, dict) and str(delete.get("Quiet", "")).strip().lower() == "true"


def _one_event_per_multipart_upload(original: Any) -> Any:
    def put_object(backend: S3Backend, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("multipart") is not None:
            kwargs["disable_notification"] = True
        return original(backend, *args, **kwargs)

    return put_object


def _aws_shaped_s3_event(original: Any) -> Any:
    def get_s3_event(event_name: str, bucket: FakeBucket, key: Any, notification_id: str) -> dict[str, Any]:
        event = original(event_name, bucket, key, notification_id)
        version = key.version_id if bucket.is_versioned else None
        event["Records"] = [aws_record(r, bucket.account_id, key.name, version) for r in event["Records"]]
        return event

    return get_s3_event


def _bucket_from_template(original: Any) -> Any:
    def create(cls: type, resource_name: str, cloudformation_json: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        properties = cloudformation_json.get("Properties", {})
        config = properties.get("NotificationConfiguration") or {}
        functions = [_cloud_function(c) for c in config.get("LambdaConfigurations", [])]
        refuse_ambiguous_notifications({"CloudFunctionConfiguration": functions})  # before the bucket is made
        bucket = original(cls, resource_name, cloudformation_json, *args, **kwargs)
        rules = properties.get("LifecycleConfiguration", {}).get("Rules") or []
        if rules:
            bucket.set_lifecycle([_api_lifecycle_rule(rule) for rule in rules])
        if functions:
            bucket.set_notification_configuration({"CloudFunctionConfiguration": functions})
        return bucket

    return create


def _validating_destinations(original: Any) -> Any:
    """PutBucketNotificationConfiguration refused, as S3 refuses it, when a destination's resource policy does not
    let s3.amazonaws.com deliver to it for this bucket (the function's permission from AddPermission, the queue's
    or topic's policy): https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html
    """

    def put_bucket_notification_configuration(backend: S3Backend, bucket_name: str,
                                              notification_config: dict[str, Any]) -> None:
        bucket = backend.get_bucket(bucket_name)
        refuse_ambiguous_notifications(notification_config or {})
        refused = [arn for arn, action in _destinations(notification_config or {})
                   if not service_allowed(resource_policy(arn), "s3.amazonaws.com", action,
                                          f"arn:aws:s3:::{bucket_name}", bucket.account_id)]
        if refused:
            raise InvalidArgumentError(UNVALIDATED_DESTINATIONS, refused[0], "Permissions on the destination "
                                       "resource do not allow S3 to deliver to it")
        original(backend, bucket_name, notification_config)

    return put_bucket_notification_configuration


@dataclass(frozen=True)
class _NotificationRule:
    """One notification configuration's events and key filter (an empty prefix or suffix matches every key)."""

    events: tuple[str, ...]
    prefix: str
    suffix: str

    @classmethod
    def of(cls, entry: dict[str, Any]) -> _NotificationRule:
        events = entry.get("Event") or []
        rules = ((entry.get("Filter") or {}).get("S3Key") or {}).get("FilterRule") or []
        named = {rule["Name"].lower(): rule["Value"] or "" for rule in ([rules] if isinstance(rules, dict) else rules)}
        return cls(tuple([events] if isinstance(events, str) else events), named.get("prefix", ""),
                   named.get("suffix", ""))

    def overlaps(self, other: _NotificationRule) -> bool:
        """Some key and event both would match: the events overlap, one prefix starts the other and one suffix ends
        the other."""
        return (any(_covers(a, b) or _covers(b, a) for a in self.events for b in other.events)
                and (self.prefix.startswith(other.prefix) or other.prefix.startswith(self.prefix))
                and (self.suffix.endswith(other.suffix) or other.suffix.endswith(self.suffix)))


def _covers(general: str, event: str) -> bool:
    """`s3:ObjectCreated:*` covers `s3:ObjectCreated:Put`; every event covers itself."""
    return general == event or (general.endswith(":*") and event.startswith(general[:-1]))


def refuse_ambiguous_notifications(config: dict[str, Any]) -> None:
    """S3 refuses two notification configurations that could both match one event of one key ("Overlapping prefixes
    and suffixes are not supported" for the same event type, whatever the destinations:
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-filtering.html) with InvalidArgument."""
    rules = [_NotificationRule.of(entry) for section, _, _ in _DESTINATIONS
             for entry in _entries(config.get(section))]
    for index, rule in enumerate(rules):
        if any(rule.overlaps(other) for other in rules[index + 1:]):
            raise InvalidArgumentError(AMBIGUOUS_NOTIFICATIONS, "Event", rule.events[0] if rule.events else "")


def _entries(section: Any) -> list[dict[str, Any]]:
    """The entries of a section of moto's parsed notification configuration (one entry is parsed as a dict)."""
    if not section:
        return []
    return [section] if isinstance(section, dict) else list(section)


def _destinations(config: dict[str, Any]) -> list[tuple[str, str]]:
    """(destination ARN, the action S3 needs on it) for each entry of moto's parsed notification configuration."""
    found = []
    for section, field, action in _DESTINATIONS:
        for entry in _entries(config.get(section)):
            found.append((entry[field], action))
    return found


def _cloud_function(config: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation LambdaConfiguration in the shape moto's S3 notification model reads."""
    entry: dict[str, Any] = {"CloudFunction": config["Function"], "Event": [config["Event"]]}
    rules = config.get("Filter", {}).get("S3Key", {}).get("Rules")
    if rules:
        entry["Filter"] = {"S3Key": {"FilterRule": rules}}
    return entry


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


def _key_on_disk(original: Any, blobs: BlobStore) -> Any:
    def init(key: FakeKey, name: str, value: bytes, *args: Any, **kwargs: Any) -> None:
        original(key, name, b"", *args, **kwargs)
        key._value_buffer.close()
        key._value_buffer = blobs.new()
        key.value = value  # type: ignore[method-assign]
        if key._etag is None and isinstance(value, bytes):  # moto's etag, from the bytes in hand, not read back
            key._etag = md5_hash(value).hexdigest()
        compact(key)

    return init


class CompactKey(FakeKey):
    """moto's FakeKey, unchanged but for where its attributes live: those still at the value `__init__` gives nearly
    every key are read from this class, so each key's own dict holds only what is its own."""


_SHARED_ATTRIBUTES: dict[str, Any] = {
    "_expiry": None, "_is_versioned": False, "_status": None, "_storage_class": "STANDARD", "_tick": 0,
    "_transitions": [(None, "IN_PROGRESS"), ("IN_PROGRESS", "RESTORED")], "_version_id": "null",
    "_max_buffer_size": get_s3_default_key_buffer_size(), "bucket_key_enabled": None, "checksum_algorithm": None,
    "checksum_parts": None, "checksum_type": None, "checksum_value": None, "disposed": False, "encryption": None,
    "kms_key_id": None, "lock_legal_status": None, "lock_mode": None, "lock_until": None,
    "model_name": "s3::keyrestore", "multipart": None, "partition": "aws", "website_redirect_location": None,
}
_INTERNED_ATTRIBUTES = ("account_id", "bucket_name", "region_name", "partition")
_NOT_SHARED = object()
for _attribute, _shared_value in _SHARED_ATTRIBUTES.items():
    setattr(CompactKey, _attribute, _shared_value)


def compact(key: FakeKey) -> None:
    """Makes `key` a CompactKey whose dict keeps only the attributes that differ from the class's (every attribute
    reads the same), with the names many keys share interned."""
    key.__class__ = CompactKey
    own = {}
    for name, value in key.__dict__.items():
        shared = _SHARED_ATTRIBUTES.get(name, _NOT_SHARED)
        if type(value) is type(shared) and value == shared:
            continue
        own[name] = sys.intern(value) if name in _INTERNED_ATTRIBUTES and type(value) is str else value
    key.__dict__ = own


def _interned_metadata_name(metadata: LowercaseDict, key: str) -> str:
    return sys.intern(key.lower())


def _no_empty_tag_sets(original: Any) -> Any:
    def put_object_tagging(backend: S3Backend, key: FakeKey, tags: dict[str, str] | None) -> FakeKey:
        result = original(backend, key, tags)
        if not backend.tagger.tags.get(key.arn, True):
            backend.tagger.tags.pop(key.arn, None)
        return result

    return put_object_tagging


def expiry(written: datetime, days: int) -> datetime:
    """When S3 expires an object written at `written` under a `days` rule: the next midnight UTC after the days."""
    due = written.astimezone(UTC) + timedelta(days=days)
    midnight = due.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight if midnight == due else midnight + timedelta(days=1)


def _expiring_rules(bucket: FakeBucket) -> list[tuple[str, int]]:
    """(prefix, days) of the bucket's enabled expiration rules that filter by prefix only."""
    rules = []
    for rule in bucket.rules:
        if rule.status != "Enabled" or not rule.expiration_days:
            continue
        lc_filter = rule.filter
        if lc_filter is not None and (lc_filter.tag_key or lc_filter.and_filter):
            continue
        prefix = rule.prefix if rule.prefix is not None else (lc_filter.prefix if lc_filter else "") or ""
        rules.append((prefix, int(rule.expiration_days)))
    return rules


def expire_objects(backend: S3Backend, now: datetime) -> int:
    """Deletes the objects the buckets' lifecycle rules say are expired; returns how many."""
    removed = 0
    for bucket in list(backend.buckets.values()):
        rules = _expiring_rules(bucket)
        if not rules or bucket.is_versioned:
            continue
        for name, key in list(bucket.keys.items()):
            if not isinstance(key, FakeKey):
                continue
            written = key.last_modified.replace(tzinfo=UTC) if key.last_modified.tzinfo is None else key.last_modified
            if any(name.startswith(prefix) and expiry(written, days) <= now for prefix, days in rules):
                backend.delete_object(bucket.name, name)
                removed += 1
    return removed
