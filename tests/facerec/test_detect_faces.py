"""detect_faces: real frames, several faces, empty images, already-cropped faces, both backends."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facerec import Box, FacerecError, ImageError, detect_faces
from facerec.config import Config
from facerec.pipeline import is_crop_like


def test_one_face_in_a_course_frame(trump):
    boxes = detect_faces(trump)
    assert len(boxes) == 1
    top, right, bottom, left = boxes[0]
    assert 0 <= left < right <= trump.shape[1] and 0 <= top < bottom <= trump.shape[0]
    assert 60 <= right - left <= 300 and all(isinstance(v, int) for v in boxes[0])


def test_every_held_out_frame_has_its_face(frames):
    assert all(len(detect_faces(frame)) >= 1 for frame in frames.values())


def test_several_faces_come_largest_first(two_faces):
    boxes = detect_faces(two_faces)
    assert len(boxes) == 2
    assert boxes[0].width * boxes[0].height >= boxes[1].width * boxes[1].height


def test_blank_image_has_no_face():
    assert detect_faces(np.full((480, 640, 3), 90, np.uint8)) == []


def test_dlib_hog_backend_finds_the_same_face(trump):
    mtcnn, hog = detect_faces(trump)[0], detect_faces(trump, Config(detector="dlib_hog"))[0]
    centre = ((mtcnn.left + mtcnn.right) / 2, (mtcnn.top + mtcnn.bottom) / 2)
    assert hog.left < centre[0] < hog.right and hog.top < centre[1] < hog.bottom


def test_unknown_detector_is_an_error(trump):
    with pytest.raises(FacerecError, match="unknown detector"):
        detect_faces(trump, Config(detector="haar"))


def test_non_image_arrays_are_refused():
    with pytest.raises(ImageError):
        detect_faces(np.zeros((10, 10), np.float32))


def test_grey_92x112_face_crop_yields_one_face(trump):
    top, right, bottom, left = detect_faces(trump)[0]
    crop = cv2.cvtColor(cv2.resize(trump[top:bottom, left:right], (92, 112)), cv2.COLOR_BGR2GRAY)
    assert len(detect_faces(cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR))) == 1


def test_crop_rule_falls_back_to_the_whole_image(trump):
    """A face-shaped crop the detector misses (here: too small for min_face_px) is taken whole."""
    top, right, bottom, left = detect_faces(trump)[0]
    crop = np.ascontiguousarray(trump[top:bottom, left:right])
    config = Config(min_face_px=200)
    assert is_crop_like(crop, config)
    assert detect_faces(crop, config) == [Box(0, crop.shape[1], crop.shape[0], 0)]


@pytest.mark.parametrize("shape", [(1, 1), (30, 30), (300, 300), (100, 300)])
def test_crop_rule_needs_crop_size_and_shape(shape):
    rng = np.random.default_rng(0)
    assert not is_crop_like(rng.integers(0, 255, (*shape, 3), dtype=np.uint8))


def test_flat_crop_is_no_face():
    assert detect_faces(np.full((112, 92, 3), 128, np.uint8)) == []
