"""load_model refuses missing, corrupt, edited and foreign artifacts with ModelError."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from facerec import ModelError, load_model
from facerec.model import ARRAY_FILES, GALLERY_FILE, HEAD_FILE, MANIFEST, content_version


@pytest.fixture
def copy(model_dir, tmp_path):
    target = tmp_path / "model"
    shutil.copytree(model_dir, target, ignore=shutil.ignore_patterns("encoding_only"))
    return target


def _rewrite_manifest(directory, **changes):
    manifest = json.loads((directory / MANIFEST).read_text())
    manifest.update(changes)
    manifest["version"] = content_version(manifest)
    (directory / MANIFEST).write_text(json.dumps(manifest))


def test_missing_folder(tmp_path):
    with pytest.raises(ModelError, match="not a model folder"):
        load_model(tmp_path / "nothing")


@pytest.mark.parametrize("name", [HEAD_FILE, GALLERY_FILE])
def test_missing_file(copy, name):
    (copy / name).unlink()
    with pytest.raises(ModelError, match=f"missing {name}"):
        load_model(copy)


def test_corrupt_head(copy):
    (copy / HEAD_FILE).write_bytes(b"PK\x03\x04 this is not a numpy file")
    with pytest.raises(ModelError, match="checksum"):
        load_model(copy)


def test_corrupt_head_with_matching_checksum_is_still_refused(copy):
    import hashlib

    (copy / HEAD_FILE).write_bytes(b"not a zip")
    _rewrite_manifest(copy, files={name: hashlib.sha256((copy / name).read_bytes()).hexdigest()
                                   for name in ARRAY_FILES})
    with pytest.raises(ModelError, match="not a readable numpy file"):
        load_model(copy)


def test_a_pickled_head_is_refused_unread(copy):
    import hashlib

    np.savez(copy / HEAD_FILE, weight=np.array([object()], dtype=object), bias=np.zeros(11, np.float32))
    _rewrite_manifest(copy, files={name: hashlib.sha256((copy / name).read_bytes()).hexdigest()
                                   for name in ARRAY_FILES})
    with pytest.raises(ModelError, match="not a readable numpy file"):
        load_model(copy)


def test_replaced_gallery(copy):
    np.save(copy / GALLERY_FILE, np.zeros((3, 128), np.float32))
    with pytest.raises(ModelError, match="checksum"):
        load_model(copy)


def test_wrong_embedding_model(copy):
    _rewrite_manifest(copy, embedding_model="facenet_vggface2")
    with pytest.raises(ModelError, match="facenet_vggface2"):
        load_model(copy)


def test_newer_format(copy):
    _rewrite_manifest(copy, format_version=99)
    with pytest.raises(ModelError, match="format_version"):
        load_model(copy)


def test_hand_edited_threshold_breaks_the_version(copy):
    manifest = json.loads((copy / MANIFEST).read_text())
    manifest["threshold"]["distance"] = 0.9
    (copy / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="version does not match"):
        load_model(copy)


@pytest.mark.parametrize("changes", [{"labels": []}, {"labels": ["a", "a"]}, {"threshold": {"distance": 5}},
                                     {"threshold": {"distance": 0.4, "ratio": {"limit": 0, "people": []}}},
                                     {"threshold": {"distance": 0.4, "ratio": {"limit": "NaN", "people": []}}},
                                     {"threshold": {"distance": 0.4, "ratio": {"limit": 0.9, "people": ["nobody"]}}},
                                     {"threshold": {"distance": 0.4, "ratio": 0.9}},
                                     {"config": {"max_side": 1, "bogus": 2}}, {"gallery": None}])
def test_bad_manifest_fields(copy, changes):
    _rewrite_manifest(copy, **changes)
    with pytest.raises(ModelError):
        load_model(copy)


def test_manifest_not_json(copy):
    (copy / MANIFEST).write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        load_model(copy)
