"""A new model version in S3 is picked up without a redeploy; a stranger comes out `unknown`.

Publishing a model changes the stack for every test: on the worker's shared emulator (tests run one at a time on
it), the fixture model is published back before anything is asserted, as test_bad_inputs.py does with its broken
models.
"""

import numpy as np
import pytest

from facerec import load_model, save_model
from facerec.store import publish_model
from facerec.train import fit
from tests.conftest import FIXTURES
from tests.pipeline.conftest import new_device, upload_clip

pytestmark = pytest.mark.integration


def _model_without(person, folder):
    """The fixture model retrained on its own gallery with one person left out: they become a stranger."""
    model = load_model(FIXTURES / "model")
    keep = model.gallery_labels != model.labels.index(person)
    labels = tuple(label for label in model.labels if label != person)
    targets = np.array([labels.index(model.labels[i]) for i in model.gallery_labels[keep]])
    stranger_free = fit(model.gallery[keep], targets, labels, model.threshold, model.config, epochs=100)
    return save_model(stranger_free, folder)


def test_a_person_left_out_of_a_new_model_is_unknown_without_a_redeploy(emulator, results, tmp_path):
    s3 = emulator.client("s3")
    bucket = emulator.outputs["ModelsBucket"]
    new_model = _model_without("president_trump", tmp_path / "model")
    device = new_device()
    try:
        publish_model(s3, bucket, tmp_path / "model")
        upload_clip(emulator, device, "test_0.mp4")
        [result] = results.wait_for(device)
    finally:
        publish_model(s3, bucket, FIXTURES / "model")
    assert result["model_version"] == new_model.version
    assert result["status"] == "unknown"
    assert result["name"] == "unknown" and result["student"] is None

    device = new_device()
    upload_clip(emulator, device, "test_0.mp4")
    [result] = results.wait_for(device)
    assert result["model_version"] == load_model(FIXTURES / "model").version
    assert result["name"] == "president_trump"
