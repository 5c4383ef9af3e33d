"""Enrol -> train -> save -> load -> identify, and the artifact's own guarantees."""

from __future__ import annotations

import json

import numpy as np

from facerec import UNKNOWN, identify, load_model
from facerec.model import GALLERY_FILE, HEAD_FILE, MANIFEST, scores


def test_round_trip_names_held_out_frames(trained, frames):
    model = load_model(trained)
    assert model.labels == ("morgan_freeman", "president_obama", "president_trump")
    for name in model.labels:
        assert identify(frames[name], model)[0].name == name
    assert identify(frames["mr_bean"], model)[0].name == UNKNOWN


def test_manifest_records_what_serving_needs(trained):
    manifest = json.loads((trained / MANIFEST).read_text())
    assert manifest["embedding_model"] == "dlib_face_recognition_resnet_model_v1"
    assert manifest["detector"] == "mtcnn" and manifest["version"] and manifest["created_at"]
    assert 0 < manifest["threshold"]["distance"] < 1
    evidence = manifest["evidence"]
    assert evidence["rule"] and evidence["stranger_tail"] > evidence["threshold"] > evidence["genuine_tail"]
    assert manifest["enrolment"]["sessions"]["president_trump"] == ["test_0.mp4"]
    assert set(manifest["gallery"]["session_names"]) == {"test_0.mp4", "test_7.mp4", "test_8.mp4"}


def test_model_files_are_plain_numpy_readable_without_pickle(trained):
    with np.load(trained / HEAD_FILE, allow_pickle=False) as head:
        assert sorted(head.files) == ["bias", "weight"] and head["weight"].shape == (3, 128)
    assert np.load(trained / GALLERY_FILE, allow_pickle=False).dtype == np.float32


def test_numpy_forward_matches_torch(trained, course_encoding):
    import torch  # here, not at the top: every xdist worker collects this module, one runs this test

    model = load_model(trained)
    head = torch.nn.Linear(128, len(model.labels))
    head.load_state_dict({"weight": torch.from_numpy(model.weight), "bias": torch.from_numpy(model.bias)})
    vectors = course_encoding[1]
    with torch.no_grad():
        expected = torch.softmax(head(torch.from_numpy(vectors)), dim=1).numpy()
    predicted, probability, *_ = scores(vectors, model)
    assert np.array_equal(predicted, expected.argmax(axis=1))
    assert np.allclose(probability, expected.max(axis=1), atol=1e-5)


def test_fixture_models_load_and_differ(model_dir):
    both, encoding = load_model(model_dir), load_model(model_dir / "encoding_only")
    assert len(both.labels) == len(encoding.labels) == 11
    assert "floor(0.4*n)" in both.info["enrolment"]["frames"]  # enrolled on the first 40 % of the videos only
    assert both.info["enrolment"]["sessions"]["president_trump"] == ["encoding", "test_0.mp4"]
    assert both.info["evidence"]["genuine_tail_from"] == "cross-session"
    assert both.version != encoding.version
