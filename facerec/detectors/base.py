"""The detector interface: RGB image in, scored face boxes out."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from facerec.types import Box


class Detector(Protocol):
    """A face detector backend; boxes are in the given image's pixels, best first."""

    @property
    def id(self) -> str:
        """Backend and settings, recorded in model.json."""
        ...

    def detect(self, rgb: np.ndarray, min_face_px: int) -> list[Box]:
        """Face boxes at least min_face_px wide that pass the backend's own score threshold."""
        ...

    def load(self, min_face_px: int) -> None:
        """Loads the backend's weights now rather than on the first detection."""
        ...


def clip_box(top: float, right: float, bottom: float, left: float, shape: tuple[int, ...]) -> Box:
    """Round and clip a box to an image of the given shape."""
    height, width = shape[:2]
    return Box(max(0, round(float(top))), min(width, round(float(right))),
               min(height, round(float(bottom))), max(0, round(float(left))))
