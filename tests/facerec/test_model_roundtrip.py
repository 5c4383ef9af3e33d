"""Enrol -> train -> save -> load -> identify, and the artifact's own guarantees."""

from __future__ import annotations

import json
import time

import numpy as np
import torch

from facerec import UNKNOWN, identify, load_model
from facerec.model import HEAD_FILE, MANIFEST, scores


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
    assert manifest["metrics"]["validation_accuracy"] == 1.0
    assert manifest["evidence"]["rule"] and manifest["enrolment"]["samples"]["president_trump"] > 0


def test_head_is_a_torch_state_dict_read_identically_without_torch(trained):
    state = torch.load(trained / HEAD_FILE, weights_only=True)
    model = load_model(trained)
    assert np.array_equal(state["weight"].numpy(), model.weight)
    assert np.array_equal(state["bias"].numpy(), model.bias)


def test_numpy_forward_matches_torch(trained, course_encoding):
    model = load_model(trained)
    head = torch.nn.Linear(128, len(model.labels))
    head.load_state_dict(torch.load(trained / HEAD_FILE, weights_only=True))
    vectors = course_encoding[1]
    with torch.no_grad():
        expected = torch.softmax(head(torch.from_numpy(vectors)), dim=1).numpy()
    predicted, probability, _ = scores(vectors, model)
    assert np.array_equal(predicted, expected.argmax(axis=1))
    assert np.allclose(probability, expected.max(axis=1), atol=1e-5)


def test_loading_is_fast(trained):
    start = time.perf_counter()
    load_model(trained)
    assert time.perf_counter() - start < 0.2


def test_fixture_models_load_and_differ(model_dir):
    video, encoding = load_model(model_dir), load_model(model_dir / "encoding_only")
    assert len(video.labels) == 8 and len(encoding.labels) == 11
    assert "floor(0.4*n)" in video.info["enrolment"]["frames"]  # enrolled on the first 40 % only
    assert video.version != encoding.version
