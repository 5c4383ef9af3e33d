"""Times, device ids, S3 keys and object metadata (docs/contracts.md, "Keys"): the one definition of each."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from contract.errors import BadKeyError

# Key prefixes: what the bucket notifications, the IAM policies (template.yaml) and every reader and writer agree on.
VIDEOS_PREFIX = "videos/"
FRAMES_PREFIX = "frames/"
MODELS_PREFIX = "models/"
MODEL_POINTER = "current.json"  # models/current.json names the current version's prefix, models/<version>/

STAMP_PATTERN = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z"
DEVICE_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
# A key's stamp segment: the device's stamps, and anything else safe in a key (clips uploaded by hand).
_KEY_STAMP_PATTERN = r"[A-Za-z0-9:._+-]{1,64}"
DEVICE_ID_RE = re.compile(rf"^{DEVICE_ID_PATTERN}$")
CLIP_KEY_RE = re.compile(rf"^{VIDEOS_PREFIX}(?P<device>{DEVICE_ID_PATTERN})/(?P<stamp>{_KEY_STAMP_PATTERN})\.mp4$")
FRAME_KEY_RE = re.compile(
    rf"^{FRAMES_PREFIX}(?P<device>{DEVICE_ID_PATTERN})/(?P<stamp>{_KEY_STAMP_PATTERN})/(?P<index>\d{{1,6}})\.png$"
)

# S3 user metadata (lower-case keys) of a clip; a frame carries the clip's plus the last three.
META_DEVICE_ID = "device-id"
META_CAPTURED_AT = "captured-at"
META_UPLOADED_AT = "uploaded-at"
META_CLIP_KEY = "clip-key"
META_FRAME_INDEX = "frame-index"
META_EXTRACTED_AT = "extracted-at"
CLIP_METADATA = (META_DEVICE_ID, META_CAPTURED_AT, META_UPLOADED_AT)

ONE_MS = timedelta(milliseconds=1)  # a stamp's resolution


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def format_stamp(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and a Z, e.g. 2026-11-26T23:59:59.123Z (truncates to the ms)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def utc_stamp() -> str:
    """The current time as a contract stamp."""
    return format_stamp(utc_now())


def next_capture_time(moment: datetime, previous: datetime | None) -> datetime:
    """`moment`, or 1 ms past `previous` when its stamp would repeat or precede previous's: one device's clip keys
    stay unique and in capture order."""
    if previous is not None and format_stamp(moment) <= format_stamp(previous):
        return previous + ONE_MS
    return moment


def parse_stamp(text: str) -> datetime:
    """Parse an ISO-8601 time that carries a UTC offset or Z; ValueError otherwise."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no timezone")
    return moment.astimezone(UTC)


def check_device_id(device_id: str) -> str:
    """Return the id if it is safe as a key segment and a MessageGroupId, else raise BadKeyError."""
    if not DEVICE_ID_RE.fullmatch(device_id):
        raise BadKeyError(
            f"device id {device_id!r} must be 1-64 characters of letters, digits, '.', '_' or '-',"
            " starting with a letter or digit"
        )
    return device_id


def clip_key(device_id: str, stamp: str) -> str:
    """The S3 key of a clip: videos/<device-id>/<capture stamp>.mp4."""
    return f"{VIDEOS_PREFIX}{device_id}/{stamp}.mp4"


def frame_key(device_id: str, stamp: str, index: int) -> str:
    """The S3 key of a clip's frame: frames/<device-id>/<clip stamp>/<index, 4 digits>.png."""
    return f"{FRAMES_PREFIX}{device_id}/{stamp}/{index:04d}.png"


@dataclass(frozen=True)
class ClipKey:
    """`videos/<device-id>/<capture stamp>.mp4`, parsed."""

    key: str
    device_id: str
    stamp: str

    @classmethod
    def parse(cls, key: str) -> ClipKey:
        """BadKeyError unless the key has the clip shape."""
        match = CLIP_KEY_RE.match(key)
        if not match or ".." in key:
            raise BadKeyError(f"clip key {key!r} is not videos/<device-id>/<timestamp>.mp4")
        return cls(key, match["device"], match["stamp"])

    def frame_key(self, index: int) -> str:
        """The key of this clip's frame `index`."""
        return frame_key(self.device_id, self.stamp, index)


@dataclass(frozen=True)
class FrameKey:
    """`frames/<device-id>/<clip stamp>/<index>.png`, parsed."""

    key: str
    device_id: str
    stamp: str
    index: int

    @classmethod
    def parse(cls, key: str) -> FrameKey:
        """BadKeyError unless the key has the frame shape."""
        match = FRAME_KEY_RE.match(key)
        if not match or ".." in key:
            raise BadKeyError(f"frame key {key!r} is not frames/<device-id>/<clip stamp>/<index>.png")
        return cls(key, match["device"], match["stamp"], int(match["index"]))

    @property
    def clip_key(self) -> str:
        """The key of the clip this frame came from."""
        return clip_key(self.device_id, self.stamp)


def clip_metadata(device_id: str, captured_at: str, uploaded_at: str | None = None) -> dict[str, str]:
    """A clip's S3 metadata; uploaded_at defaults to now (taken just before the PUT)."""
    return {META_DEVICE_ID: device_id, META_CAPTURED_AT: captured_at, META_UPLOADED_AT: uploaded_at or utc_stamp()}


def carried_metadata(clip: ClipKey, metadata: Mapping[str, str], event_time: str) -> dict[str, str]:
    """The clip metadata a frame carries, completed for a clip uploaded without it (e.g. `aws s3 cp`).

    The device id comes from the key; the upload time is the S3 event's; the capture time is the key's
    stamp when it is one, else the upload time (a clip cannot be captured after it was uploaded).
    """
    carried = {name: metadata[name] for name in CLIP_METADATA if name in metadata}
    carried.setdefault(META_DEVICE_ID, clip.device_id)
    carried.setdefault(META_UPLOADED_AT, event_time)
    carried.setdefault(META_CAPTURED_AT, _stamp_or(clip.stamp, carried[META_UPLOADED_AT]))
    return carried


def _stamp_or(text: str, fallback: str) -> str:
    """`text` as a contract stamp if it is an ISO-8601 time with a zone, else `fallback`."""
    try:
        return format_stamp(parse_stamp(text))
    except ValueError:
        return fallback
