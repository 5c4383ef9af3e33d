"""Enrolment leaves out bad crops (no face, several faces, blurred, tiny) and holds whole sessions out."""

from __future__ import annotations

import cv2
import numpy as np

from facerec.config import Config
from facerec.enroll import collect, holdouts, quality_problem
from facerec.pipeline import preprocess
from facerec.sources import Sample


def test_a_good_frame_passes(trump):
    assert quality_problem(preprocess(trump)) is None


def test_no_face():
    assert quality_problem(preprocess(np.full((480, 640, 3), 50, np.uint8))) == "no face"


def test_several_faces(two_faces):
    assert quality_problem(preprocess(two_faces)) == "2 faces"


def test_blurred(trump):
    blurred = cv2.GaussianBlur(trump, (0, 0), 4)
    assert quality_problem(preprocess(blurred)).startswith("blurred")


def test_tiny(trump):
    small = cv2.resize(trump, None, fx=0.4, fy=0.4, interpolation=cv2.INTER_AREA)
    assert quality_problem(preprocess(small, Config(min_face_px=20))).startswith("tiny face")


def test_collect_keeps_good_samples_and_lists_rejections(trump, two_faces):
    samples = [Sample("president_trump", "a.png", image=trump), Sample("vin_diesel", "b.png", image=two_faces),
               Sample("x", "c.png", error="not a supported image"),
               Sample("bush", "encoding#bush", 0, embedding=np.ones(128, np.float32) / np.sqrt(128))]
    enrolled = collect(samples)
    assert enrolled.labels == ["president_trump", "bush"]
    assert [(r.origin, r.reason) for r in enrolled.rejections] == [("b.png", "2 faces"),
                                                                    ("c.png", "not a supported image")]


def test_each_session_of_a_person_with_several_is_held_out_whole_once():
    targets = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2])
    sessions = np.array(["photos", "video", "video", "video"] + ["clip"] * 10 + ["encoding"])
    plan = holdouts(targets, sessions)
    assert len(plan) == 2
    held_counts = np.sum([held for held, _ in plan], axis=0)
    assert held_counts[:4].tolist() == [1, 1, 1, 1]  # person 0: photos in one fold, video in the other
    assert held_counts[4:14].tolist() == [0] * 7 + [1] * 3  # person 1, one session: its last 30 %, once
    assert held_counts[14] == 0  # a single sample stays in training
    cross = np.any([c for _, c in plan], axis=0)
    assert cross.tolist() == [True] * 4 + [False] * 11
