"""The one preprocessing path for enrolment, training and serving: image -> boxes -> chips -> embeddings."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from facerec.config import DEFAULT, Config
from facerec.detectors import get_detector
from facerec.detectors.base import clip_box
from facerec.embedding import align, embed_chips
from facerec.embedding import load_weights as load_embedding_weights
from facerec.errors import ImageError
from facerec.types import Box

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Face:
    """One detected face: box, unit embedding, and the chip's sharpness (variance of the Laplacian)."""

    box: Box
    embedding: np.ndarray
    sharpness: float


def load_weights(config: Config = DEFAULT) -> None:
    """Loads every weight the pipeline needs (detector, landmarks, ResNet): for a Lambda's INIT phase."""
    get_detector(config.detector).load(config.min_face_px)
    load_embedding_weights()


def detect_faces(image: np.ndarray, config: Config = DEFAULT) -> list[Box]:
    """Face boxes in a BGR image, largest first; a face-shaped small crop with no detection is one face."""
    check_image(image)
    height, width = image.shape[:2]
    scale = min(1.0, config.detect_side / max(height, width))
    small = image if scale == 1.0 else cv2.resize(
        image, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
    rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
    found = get_detector(config.detector).detect(rgb, config.min_face_px) if min(small.shape[:2]) >= 12 else []
    boxes = [clip_box(b.top / scale, b.right / scale, b.bottom / scale, b.left / scale, image.shape)
             for b in found]
    if not boxes and is_crop_like(image, config):
        log.debug("no detection in a %dx%d crop-like image: using the whole image", width, height)
        boxes = [Box(0, width, height, 0)]
    return sorted(boxes, key=lambda b: -b.width * b.height)


def is_crop_like(image: np.ndarray, config: Config = DEFAULT) -> bool:
    """Small, roughly face-shaped (aspect 0.6-1.4) and not flat: probably an already-cropped face."""
    height, width = image.shape[:2]
    sized = config.crop_min_side <= min(height, width) and max(height, width) <= config.crop_max_side
    shaped = 0.6 <= width / height <= 1.4
    return sized and shaped and float(np.std(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))) >= config.crop_min_contrast


def embed_faces(image: np.ndarray, boxes: list[Box]) -> np.ndarray:
    """L2-normalised 128-d embeddings (float32, shape (len(boxes), 128)) for the boxes of a BGR image."""
    return preprocess_boxes(image, boxes)[0]


def preprocess(image: np.ndarray, config: Config = DEFAULT) -> list[Face]:
    """Detect, align and embed every face of a BGR image, largest first."""
    boxes = detect_faces(image, config)
    embeddings, chips = preprocess_boxes(image, boxes)
    return [Face(box, vector, sharpness(chip)) for box, vector, chip in zip(boxes, embeddings, chips, strict=True)]


def preprocess_boxes(image: np.ndarray, boxes: list[Box]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Embeddings and aligned RGB chips for given boxes."""
    check_image(image)
    chips = align(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), [Box(*map(int, b)) for b in boxes])
    return embed_chips(chips), chips


def sharpness(chip: np.ndarray) -> float:
    """Variance of the Laplacian of a face chip after scaling its grey levels to std 50; low means blurred."""
    grey = cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY).astype(np.float64)
    grey = (grey - grey.mean()) * (50.0 / max(float(grey.std()), 1.0))
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def check_image(image: np.ndarray) -> None:
    """Raise ImageError unless image is an HxWx3 uint8 array."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", None)
        raise ImageError(f"expected an HxWx3 uint8 BGR array, got {type(image).__name__} {shape}")
    if min(image.shape[:2]) < 1:
        raise ImageError(f"empty image {image.shape}")
