"""Serving: one image in, one identification per face out."""

from __future__ import annotations

import numpy as np

from facerec.model import FaceModel, classify
from facerec.pipeline import preprocess
from facerec.types import Identification


def identify(image: np.ndarray, model: FaceModel, threshold: float | None = None) -> list[Identification]:
    """Identify every face of a BGR image (largest first); an empty list when there is none."""
    faces = preprocess(image, model.config)
    if not faces:
        return []
    matches = classify(np.stack([f.embedding for f in faces]), model, threshold)
    return [Identification(m.name, m.confidence, m.distance, f.box) for f, m in zip(faces, matches, strict=True)]
