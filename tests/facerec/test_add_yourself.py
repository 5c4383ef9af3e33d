"""Add yourself: a new person enrols onto an existing model and is named in a different source; strangers are not.

What each test proves, honestly: every course video shows one distinct person, so the only second session of
a course person is the course `encoding`, made from photos other than the test videos. The first test enrols a
person from those photos alone and recognises them in a frame of their video (a different session); the
second enrols from photo files cut from a video's first 40 % and tests a later frame of it (the flow through
`--add`, not cross-session).
"""

from __future__ import annotations

import logging
import pickle

import cv2

from facerec import UNKNOWN, identify, load_model
from facerec.cli import main
from facerec.enroll import NO_CROSS_SESSION_WARNING


def _photo_encoding(course_encoding, name, path):
    """A one-person course-format pickle: `name`'s encoding from the course photos."""
    names, vectors = course_encoding
    path.write_bytes(pickle.dumps({"name": [name], "encoding": [vectors[names.index(name)].astype("float64")]}))
    return path


def test_a_person_enrolled_from_photos_is_named_in_their_video_and_a_stranger_stays_unknown(
        trained, course_encoding, frame_at, frames, tmp_path):
    photos = _photo_encoding(course_encoding, "johnny_dep", tmp_path / "johnny_photos")
    assert main(["enroll", str(photos), "--add", str(trained), "--out", str(tmp_path / "model")]) == 0
    model = load_model(tmp_path / "model")
    assert model.labels == ("johnny_dep", "morgan_freeman", "president_obama", "president_trump")
    assert model.info["enrolment"]["added_to"]["version"] == load_model(trained).version
    [face] = identify(frame_at("test_4.mp4", 0.7), model)  # a video frame: not the photos' session
    assert face.name == "johnny_dep"
    assert identify(frames["mr_bean"], model)[0].name == UNKNOWN  # held out: never enrolled
    assert identify(frames["president_obama"], model)[0].name == "president_obama"  # the base's people stay


def test_enrol_from_photo_files_warns_without_a_second_session_and_not_with_one(
        trained, course_encoding, frame_at, tmp_path, caplog):
    person = tmp_path / "people" / "johnny_dep"
    person.mkdir(parents=True)
    for position in (0.0, 0.1, 0.2, 0.3):
        cv2.imwrite(str(person / f"{position}.jpg"), frame_at("test_4.mp4", position))
    with caplog.at_level(logging.WARNING, logger="facerec.enroll"):
        assert main(["enroll", str(tmp_path / "people"), "--add", str(trained), "--out", str(tmp_path / "one")]) == 0
    [warning] = [r.getMessage() for r in caplog.records if NO_CROSS_SESSION_WARNING in r.getMessage()]
    assert "johnny_dep" in warning and "president_trump" in warning
    assert identify(frame_at("test_4.mp4", 0.7), load_model(tmp_path / "one"))[0].name == "johnny_dep"

    caplog.clear()
    photos = _photo_encoding(course_encoding, "johnny_dep", tmp_path / "johnny_photos")
    with caplog.at_level(logging.WARNING, logger="facerec.enroll"):
        assert main(["enroll", str(tmp_path / "people"), str(photos), "--add", str(trained),
                     "--out", str(tmp_path / "two")]) == 0
    [warning] = [r.getMessage() for r in caplog.records if NO_CROSS_SESSION_WARNING in r.getMessage()]
    assert "johnny_dep" not in warning and "president_trump" in warning
    evidence = load_model(tmp_path / "two").info["evidence"]
    assert evidence["cross_session_people"] == 1 and evidence["genuine_tail_from"] == "cross-session"


def test_adding_needs_the_model_detector(trained, tmp_path, capsys):
    status = main(["enroll", str(tmp_path), "--add", str(trained), "--detector", "dlib_hog", "--out", str(tmp_path)])
    assert status == 1 and "enrolled with mtcnn" in " ".join(capsys.readouterr().err.split())
