"""Capture stamps, S3 keys and the metadata a frame carries follow docs/contracts.md."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract import (
    BadKeyError,
    ClipKey,
    FrameKey,
    carried_metadata,
    check_device_id,
    clip_key,
    format_stamp,
    frame_key,
    parse_stamp,
)
from device.errors import ConfigError
from device.naming import SPOOL_NAME_RE
from device.naming import check_device_id as device_check_device_id


def test_clip_and_frame_keys() -> None:
    moment = datetime(2026, 11, 26, 23, 59, 59, 123456, tzinfo=UTC)
    stamp = format_stamp(moment)
    assert stamp == "2026-11-26T23:59:59.123Z"
    assert clip_key("pi-1", stamp) == "videos/pi-1/2026-11-26T23:59:59.123Z.mp4"
    assert frame_key("pi-1", stamp, 7) == "frames/pi-1/2026-11-26T23:59:59.123Z/0007.png"
    assert SPOOL_NAME_RE.fullmatch(f"{stamp}.mp4")


def test_stamps_are_utc_whatever_the_input_zone() -> None:
    local = datetime(2026, 11, 27, 1, 0, 0, tzinfo=timezone(timedelta(hours=2)))
    assert format_stamp(local) == "2026-11-26T23:00:00.000Z"


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2999, 12, 31), timezones=st.just(UTC)))
def test_stamp_round_trips_to_the_millisecond_and_sorts_like_time(moment: datetime) -> None:
    stamp = format_stamp(moment)
    assert parse_stamp(stamp) == moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    later = format_stamp(moment + timedelta(milliseconds=1))
    assert stamp < later and len(stamp) == len(later) == 24


def test_naive_timestamps_are_rejected() -> None:
    with pytest.raises(ValueError, match="no timezone"):
        parse_stamp("2026-11-26T23:59:59.123")


@pytest.mark.parametrize("bad", ["", "pi 1", "pi/1", "-pi", "x" * 65, "pi:1"])
def test_device_ids_must_be_safe_key_segments(bad: str) -> None:
    with pytest.raises(BadKeyError, match="device id"):
        check_device_id(bad)
    with pytest.raises(ConfigError, match="device id"):
        device_check_device_id(bad)


def test_ordinary_device_ids_pass() -> None:
    assert check_device_id("raspberrypi-2.lab_3") == "raspberrypi-2.lab_3"


def test_keys_parse_back_into_their_parts() -> None:
    clip = ClipKey.parse("videos/pi-1/2026-11-26T23:59:59.123Z.mp4")
    frame = FrameKey.parse(clip.frame_key(7))
    assert (frame.device_id, frame.stamp, frame.index) == ("pi-1", "2026-11-26T23:59:59.123Z", 7)
    assert frame.clip_key == clip.key


@pytest.mark.parametrize("key", ["videos/pi-1/2026-11-26T23:59:59.123Z.mp4", "videos/dev_1/x.mp4"])
def test_clip_keys_of_the_contract_parse(key):
    clip = ClipKey.parse(key)
    assert clip.frame_key(7) == f"frames/{clip.device_id}/{clip.stamp}/0007.png"


@pytest.mark.parametrize("key", [
    "videos/../etc/passwd.mp4", "videos/dev1/../../x.mp4", "videos/x.mp4", "frames/dev1/x.mp4",
    "videos/dev 1/x.mp4", "videos/dev1/a b.mp4", "videos/dév/x.mp4", "videos/dev1/x%2F.mp4", "videos/dev1/x.avi",
    "videos/dev1/sub/x.mp4", "videos/.hidden/x.mp4",
])
def test_keys_outside_the_contract_are_refused(key):
    with pytest.raises(BadKeyError, match="is not videos/"):
        ClipKey.parse(key)


@pytest.mark.parametrize("key", ["frames/../x/0.png", "frames/a/b/c.png", "videos/a/b/0.png", "frames/a b/s/0.png",
                                 "frames/a/s/0.jpg"])
def test_foreign_frame_keys_are_refused(key: str) -> None:
    with pytest.raises(BadKeyError, match="is not frames/"):
        FrameKey.parse(key)


def test_a_clip_with_metadata_keeps_it() -> None:
    metadata = {"device-id": "pi-1", "captured-at": "2026-11-26T23:59:59.123Z",
                "uploaded-at": "2026-11-26T23:59:59.200Z", "other": "dropped"}
    carried = carried_metadata(ClipKey.parse("videos/pi-1/x.mp4"), metadata, "2026-11-26T23:59:59.300Z")
    assert carried == {k: metadata[k] for k in ("device-id", "captured-at", "uploaded-at")}


def test_a_clip_without_metadata_takes_its_capture_time_from_the_key() -> None:
    clip = ClipKey.parse("videos/pi-1/2026-11-26T23:59:59.123Z.mp4")
    carried = carried_metadata(clip, {}, "2026-11-26T23:59:59.300Z")
    assert carried == {"device-id": "pi-1", "captured-at": "2026-11-26T23:59:59.123Z",
                       "uploaded-at": "2026-11-26T23:59:59.300Z"}


def test_a_clip_without_metadata_or_a_stamp_in_its_key_was_captured_by_its_upload() -> None:
    carried = carried_metadata(ClipKey.parse("videos/pi-1/holiday.mp4"), {}, "2026-11-26T23:59:59.300Z")
    assert carried["captured-at"] == carried["uploaded-at"] == "2026-11-26T23:59:59.300Z"
