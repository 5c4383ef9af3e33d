"""Frame extractor library: frame selection, bounded OpenCV decoding on real clips."""

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lambdas.frame_extractor.frames import BadClipError, FrameSelection, Limits, extract_frames, fit_within
from tests.conftest import FIXTURES

VIDEO = FIXTURES / "videos" / "test_0.mp4"


@pytest.mark.parametrize("text, expected", [
    ("1", FrameSelection(count=1)), ("3", FrameSelection(count=3)),
    ("all", FrameSelection(every_frame=True, count=None)), ("2fps", FrameSelection(count=None, per_second=2.0)),
    (" ALL ", FrameSelection(every_frame=True, count=None)),
])
def test_frames_per_clip_settings_parse(text, expected):
    assert FrameSelection.parse(text) == expected


@pytest.mark.parametrize("text", ["", "0", "-1", "two", "1001", "0fps", "500fps", "1.5"])
def test_bad_frames_per_clip_settings_are_refused(text):
    with pytest.raises(ValueError, match="FRAMES_PER_CLIP"):
        FrameSelection.parse(text)


@given(st.integers(0, 5000), st.floats(1, 120), st.sampled_from(["1", "3", "all", "2fps", "30"]))
def test_selected_indices_are_sorted_unique_and_inside_the_clip(frame_count, fps, setting):
    indices = FrameSelection.parse(setting).indices(frame_count, fps)
    assert indices == sorted(set(indices))
    assert all(0 <= i < frame_count for i in indices)
    assert bool(indices) == (frame_count > 0)


def test_one_frame_per_clip_is_the_first_frame():
    assert FrameSelection.parse("1").indices(15, 30.0) == [0]


def test_a_course_clip_yields_one_png_that_decodes_and_fits_the_bound():
    [(index, png)] = list(extract_frames(VIDEO, FrameSelection.parse("1"), Limits()))
    frame = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert index == 0 and frame is not None
    assert max(frame.shape[:2]) <= 1280


def test_every_frame_mode_returns_every_decodable_frame_in_order():
    capture = cv2.VideoCapture(str(VIDEO))
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    capture.release()
    indices = [i for i, _ in extract_frames(VIDEO, FrameSelection.parse("all"), Limits(frame_max_side=160))]
    assert indices == list(range(len(indices))) and count - 2 <= len(indices) <= count


def test_a_text_file_named_mp4_is_a_bad_clip(tmp_path):
    fake = tmp_path / "fake.mp4"
    fake.write_text("not a video at all")
    with pytest.raises(BadClipError):
        list(extract_frames(fake, FrameSelection(), Limits()))


def test_a_truncated_clip_is_a_bad_clip(tmp_path):
    truncated = tmp_path / "cut.mp4"
    truncated.write_bytes(VIDEO.read_bytes()[:2000])
    with pytest.raises(BadClipError):
        list(extract_frames(truncated, FrameSelection(), Limits()))


def test_a_clip_longer_than_the_limit_is_refused():
    with pytest.raises(BadClipError, match="over the 0 s limit"):
        list(extract_frames(VIDEO, FrameSelection(), Limits(max_seconds=0.1)))


def test_frames_are_downscaled_to_the_longest_side_and_never_upscaled():
    big = np.zeros((2160, 3840, 3), np.uint8)
    assert fit_within(big, 1280).shape == (720, 1280, 3)
    small = np.zeros((48, 64, 3), np.uint8)
    assert fit_within(small, 1280) is small
