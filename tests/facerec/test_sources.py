"""Labelled sources and the enrol/test frame split."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from facerec import EnrolmentError
from facerec.sources import FrameWindow, iter_samples


@given(st.integers(1, 2000), st.sampled_from([0.2, 0.4, 0.5, 0.75]))
def test_enrol_and_test_windows_split_every_video_exactly(count, cut):
    enrol = set(FrameWindow.parse(f":{cut}").indices(count))
    test = set(FrameWindow.parse(f"{cut}:").indices(count))
    assert not enrol & test and enrol | test == set(range(count))


@pytest.mark.parametrize("spec", ["", "0.5", "0.6:0.4", "a:b", "0:1.5"])
def test_bad_windows_are_refused(spec):
    with pytest.raises(ValueError):
        FrameWindow.parse(spec)


def test_labelled_video_by_name_and_by_labels_file(fixtures_dir):
    video = fixtures_dir / "videos" / "test_7.mp4"
    window = FrameWindow(0.0, 0.4, 5)
    by_name = [(s.label, s.frame) for s in iter_samples([f"freeman={video}"], window=window)]
    by_file = [(s.label, s.frame) for s in iter_samples([str(video)], {"test_7.mp4": "freeman"}, window)]
    assert by_name == by_file == [("freeman", 0), ("freeman", 5)]


def test_course_encoding_gives_embeddings(fixtures_dir):
    samples = list(iter_samples([str(fixtures_dir / "encoding")]))
    assert len(samples) == 11 and all(s.embedding is not None and s.image is None for s in samples)


def test_unlabelled_and_missing_sources_are_errors(fixtures_dir, tmp_path):
    with pytest.raises(EnrolmentError, match="no label"):
        list(iter_samples([str(fixtures_dir / "videos" / "test_7.mp4")]))
    with pytest.raises(EnrolmentError, match="no such source"):
        list(iter_samples([str(tmp_path / "absent")]))
