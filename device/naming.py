"""Capture-time stamps and the S3 keys derived from them (docs/contracts.md, "Keys")."""

import re
from datetime import UTC, datetime, timedelta

from device.errors import ConfigError

STAMP_PATTERN = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z"
SPOOL_NAME_RE = re.compile(rf"^({STAMP_PATTERN})\.mp4$")
DEVICE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
ONE_MS = timedelta(milliseconds=1)


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def format_stamp(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and a Z, e.g. 2026-11-26T23:59:59.123Z (truncates to the ms)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_stamp(text: str) -> datetime:
    """Parse an ISO-8601 time that carries a UTC offset or Z; ValueError otherwise."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no timezone")
    return moment.astimezone(UTC)


def check_device_id(device_id: str) -> str:
    """Return the id if it is safe as a key segment and a MessageGroupId, else raise ConfigError."""
    if not DEVICE_ID_RE.fullmatch(device_id):
        raise ConfigError(
            f"device id {device_id!r} must be 1-64 characters of letters, digits, '.', '_' or '-',"
            " starting with a letter or digit"
        )
    return device_id


def clip_key(device_id: str, stamp: str) -> str:
    """The S3 key of a clip: videos/<device-id>/<capture stamp>.mp4."""
    return f"videos/{device_id}/{stamp}.mp4"


def frame_key(device_id: str, stamp: str, index: int) -> str:
    """The S3 key of a clip's frame: frames/<device-id>/<clip stamp>/<index, 4 digits>.png."""
    return f"frames/{device_id}/{stamp}/{index:04d}.png"
