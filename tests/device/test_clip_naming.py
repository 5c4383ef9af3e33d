"""Capture stamps and S3 keys follow docs/contracts.md."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device.errors import ConfigError
from device.naming import SPOOL_NAME_RE, check_device_id, clip_key, format_stamp, frame_key, parse_stamp


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
    with pytest.raises(ConfigError, match="device id"):
        check_device_id(bad)


def test_ordinary_device_ids_pass() -> None:
    assert check_device_id("raspberrypi-2.lab_3") == "raspberrypi-2.lab_3"
