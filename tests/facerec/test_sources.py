"""Labelled sources, their sessions, and the enrol/test frame split."""

from __future__ import annotations

import shutil

import cv2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from facerec import EnrolmentError
from facerec.sources import FrameWindow, Reading, iter_samples


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
    by_name = [(s.label, s.frame) for s in iter_samples([f"freeman={video}"], Reading(window=window))]
    by_file = [(s.label, s.frame) for s in iter_samples([str(video)], Reading({"test_7.mp4": "freeman"},
                                                                              window=window))]
    assert by_name == by_file == [("freeman", 0), ("freeman", 5)]


def test_course_encoding_gives_embeddings_of_one_photo_session(fixtures_dir):
    samples = list(iter_samples([str(fixtures_dir / "encoding")]))
    assert len(samples) == 11 and all(s.embedding is not None and s.image is None for s in samples)
    assert {s.session for s in samples} == {"encoding"}


def test_each_video_and_each_photo_folder_is_a_session_unless_mapped(frames, fixtures_dir, tmp_path):
    person = tmp_path / "morgan_freeman"
    for folder in (person, person / "day2"):
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / "a.png"), cv2.resize(frames["morgan_freeman"], (320, 180)))
    shutil.copy(fixtures_dir / "videos" / "test_7.mp4", person / "clip.mp4")
    window = FrameWindow(0.0, 1.0, every=20)
    default = [s.session for s in iter_samples([str(tmp_path)], Reading(window=window))]
    assert default == ["clip.mp4", "clip.mp4", "morgan_freeman", "day2"]
    mapped = Reading(sessions={"clip.mp4": "phone", "day2": "phone"}, window=window)
    assert [s.session for s in iter_samples([str(tmp_path)], mapped)] == ["phone", "phone", "morgan_freeman", "phone"]


def test_unlabelled_and_missing_sources_are_errors(fixtures_dir, tmp_path):
    with pytest.raises(EnrolmentError, match="no label"):
        list(iter_samples([str(fixtures_dir / "videos" / "test_7.mp4")]))
    with pytest.raises(EnrolmentError, match="no such source"):
        list(iter_samples([str(tmp_path / "absent")]))
