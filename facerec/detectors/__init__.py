"""Face detector backends, one per module, chosen by name from an explicit dict."""

from __future__ import annotations

from facerec.detectors.base import Detector
from facerec.detectors.dlib_hog import DlibHogDetector
from facerec.detectors.mtcnn import MtcnnDetector
from facerec.errors import FacerecError

DETECTORS: dict[str, Detector] = {
    "mtcnn": MtcnnDetector(),
    "dlib_hog": DlibHogDetector(),
}


def get_detector(name: str) -> Detector:
    """The detector registered under name."""
    try:
        return DETECTORS[name]
    except KeyError:
        raise FacerecError(f"unknown detector {name!r}; choose from {sorted(DETECTORS)}") from None


__all__ = ["DETECTORS", "Detector", "get_detector"]
