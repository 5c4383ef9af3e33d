"""Face recognition: detect, align, embed (dlib ResNet 128-d), classify with an open-set threshold.

Plain data in and out: BGR uint8 arrays, (top, right, bottom, left) boxes, numpy embeddings.
Models load lazily on first use; importing this package loads no weights and does not import torch.
"""

from facerec.errors import EnrolmentError, FacerecError, ImageError, ModelError, StoreError
from facerec.imageio import load_image
from facerec.model import UNKNOWN, FaceModel, Match, classify, load_model, save_model
from facerec.pipeline import detect_faces, embed_faces
from facerec.serve import identify
from facerec.types import Box, Identification

__all__ = [
    "UNKNOWN",
    "Box",
    "EnrolmentError",
    "FaceModel",
    "FacerecError",
    "Identification",
    "ImageError",
    "Match",
    "ModelError",
    "StoreError",
    "classify",
    "detect_faces",
    "embed_faces",
    "identify",
    "load_image",
    "load_model",
    "save_model",
]
