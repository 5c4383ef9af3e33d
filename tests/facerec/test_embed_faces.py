"""embed_faces: unit 128-d vectors, deterministic, same person closer than another person."""

from __future__ import annotations

import numpy as np

from facerec import detect_faces, embed_faces


def embed_one(image: np.ndarray) -> np.ndarray:
    return embed_faces(image, detect_faces(image)[:1])[0]


def test_embeddings_are_unit_128_vectors(two_faces):
    vectors = embed_faces(two_faces, detect_faces(two_faces))
    assert vectors.shape == (2, 128) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_no_boxes_give_an_empty_matrix(trump):
    assert embed_faces(trump, []).shape == (0, 128)


def test_embedding_is_deterministic(trump):
    boxes = detect_faces(trump)
    assert np.allclose(embed_faces(trump, boxes), embed_faces(trump, boxes), atol=1e-6)


def test_same_person_is_closer_than_another(frames, frame_at):
    trump_early = embed_one(frame_at("test_0.mp4", 0.1))
    trump_late = embed_one(frames["president_trump"])
    biden = embed_one(frames["president_biden"])
    same, other = np.linalg.norm(trump_early - trump_late), np.linalg.norm(trump_early - biden)
    assert same < 0.3 < other
