"""dlib's HOG + linear SVM frontal face detector; the second backend."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import dlib
import numpy as np

from facerec.detectors.base import clip_box
from facerec.types import Box

_HOG_WINDOW_PX = 80  # the smallest face HOG finds without upsampling


@dataclass(frozen=True)
class DlibHogDetector:
    """HOG detector; upsamples once when asked for faces smaller than its 80 px window."""

    min_margin: float = 0.0  # SVM margin a detection needs

    @property
    def id(self) -> str:
        """Backend, dlib version and settings."""
        return f"dlib-hog-{dlib.__version__} margin {self.min_margin:g}"

    def detect(self, rgb: np.ndarray, min_face_px: int) -> list[Box]:
        """Face boxes, highest margin first."""
        upsample = 1 if min_face_px < _HOG_WINDOW_PX else 0
        rects, scores, _ = _detector().run(rgb, upsample, self.min_margin)
        ranked = sorted(zip(scores, rects, strict=True), key=lambda pair: -pair[0])
        boxes = [clip_box(r.top(), r.right(), r.bottom(), r.left(), rgb.shape) for _, r in ranked]
        return [b for b in boxes if b.width >= min_face_px * 0.8 and b.height > 0]

    def load(self, min_face_px: int) -> None:
        """Builds dlib's HOG detector."""
        _detector()


@lru_cache(maxsize=1)
def _detector() -> dlib.fhog_object_detector:
    return dlib.get_frontal_face_detector()
