"""The gallery: one template per person and session, the normalised mean of that session's embeddings."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from facerec.config import DEFAULT
from facerec.embedding import normalise
from facerec.model import scores
from facerec.train import fit, session_templates

LABELS = ("alice", "bob", "carol")


def _unit(seed: int, count: int = 1) -> np.ndarray:
    return normalise(np.random.default_rng(seed).normal(size=(count, 128)))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.sampled_from(["video", "photos", "day2"])), min_size=1, max_size=30))
def test_one_unit_template_per_person_and_session(pairs):
    targets = np.array([t for t, _ in pairs])
    sessions = np.array([s for _, s in pairs], dtype=str)
    vectors = _unit(len(pairs), len(pairs))
    templates, owners, names = session_templates(vectors, targets, sessions)
    assert sorted(zip(owners.tolist(), names.tolist(), strict=True)) == sorted(set(pairs))
    assert np.allclose(np.linalg.norm(templates, axis=1), 1.0, atol=1e-5)
    for template, owner, name in zip(templates, owners, names, strict=True):
        members = vectors[(targets == owner) & (sessions == name)]
        assert np.allclose(template, normalise(members.mean(axis=0))[0], atol=1e-5)


def test_fit_records_each_templates_session():
    vectors = np.vstack([_unit(1, 4), _unit(2, 3), _unit(3, 2)])
    targets = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2])
    sessions = np.array(["video", "video", "photos", "photos", "video", "video", "video", "encoding", "encoding"])
    model = fit(vectors, targets, LABELS, 0.4, DEFAULT, epochs=5, sessions=sessions)
    assert len(model.gallery) == 4
    assert sorted(zip(model.gallery_labels.tolist(), model.gallery_sessions, strict=True)) == [
        (0, "photos"), (0, "video"), (1, "video"), (2, "encoding")]


def test_a_stranger_near_one_odd_frame_is_not_near_the_person():
    """A session's odd frame (blur, a turned head) no longer pulls a look-alike stranger in."""
    person = _unit(10)[0]
    stranger = _unit(11)[0]
    frames = normalise(person + 0.15 * _unit(12, 9))
    odd = normalise(stranger + 0.2 * person)
    vectors = np.vstack([frames, odd, _unit(13, 5)])
    targets = np.array([0] * 10 + [1] * 5)
    sessions = np.array(["video"] * 15)
    model = fit(vectors, targets, LABELS[:2], 0.4, DEFAULT, epochs=50, sessions=sessions)
    odd_frame_distance = float(np.linalg.norm(stranger - odd[0]))
    distance = scores(stranger[None, :], model, exclude="bob").distance
    assert distance[0] > odd_frame_distance + 0.3
