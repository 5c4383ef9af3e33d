"""classify / identify with the fixture model: enrolled people named, strangers unknown."""

from __future__ import annotations

import numpy as np

from facerec import UNKNOWN, Identification, detect_faces, embed_faces, identify, load_image, load_model
from facerec.model import classify

# fixtures/photos: independent photos of enrolled people, taken on other days (see its README)
PHOTOS_OF_ANOTHER_DAY = {"biden.jpg": "president_biden", "obama.jpg": "president_obama",
                         "obama2.jpg": "president_obama", "obama3.jpg": "president_obama",
                         "obama_partial_face.jpg": "president_obama", "obama_partial_face2.jpg": "president_obama"}


def test_held_out_frames_are_named(frames, model):
    for name, frame in frames.items():
        faces = identify(frame, model)
        assert faces and isinstance(faces[0], Identification)
        assert faces[0].name == name, (name, faces[0])
        assert 0.5 < faces[0].confidence <= 1 and faces[0].distance <= model.threshold


def test_photos_taken_another_day_are_named(fixtures_dir, model):
    for file, name in PHOTOS_OF_ANOTHER_DAY.items():
        faces = identify(load_image(fixtures_dir / "photos" / file), model)
        assert [face.name for face in faces] == [name], file


def test_a_person_left_out_of_the_model_is_unknown(frames, model):
    """Leave-one-person-out: each person, removed from the model, must come out unknown."""
    vectors = np.stack([embed_faces(f, detect_faces(f)[:1])[0] for f in frames.values()])
    for vector, name in zip(vectors, frames, strict=True):
        match = classify(vector[None, :], model, exclude=name)[0]
        assert match.name == UNKNOWN and match.distance > model.threshold
        assert 0.5 <= match.confidence <= 1


def test_strangers_from_the_course_photos_are_unknown_to_a_video_enrolled_model(course_encoding, trained):
    names, vectors = course_encoding
    model = load_model(trained)
    strangers = [v for n, v in zip(names, vectors, strict=True) if n not in model.labels]
    assert len(strangers) == 8
    assert all(m.name == UNKNOWN for m in classify(np.stack(strangers), model))


def test_threshold_is_a_parameter(trump, model):
    vector = embed_faces(trump, detect_faces(trump))
    assert classify(vector, model)[0].name == "president_trump"
    assert classify(vector, model, threshold=0.01)[0].name == UNKNOWN


def test_a_blurred_stranger_beside_an_enrolled_person(two_faces, model):
    names = {face.name for face in identify(two_faces, model)}
    assert "vin_diesel" in names and len(names) == 2 and UNKNOWN in names


def test_no_face_is_an_empty_result(model):
    assert identify(np.zeros((480, 640, 3), np.uint8), model) == []
