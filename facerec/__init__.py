"""Face recognition: detect, align, embed (dlib ResNet 128-d), name or call "unknown" beyond a threshold.

The few calls a user needs, like face_recognition's small API:

    model = load_model("fixtures/model")                  # or enroll([...]).model, then save_model(model, folder)
    for face in identify(load_image("photo.jpg"), model):
        print(face.name, face.distance, face.box)

Plain data in and out: BGR uint8 arrays, (top, right, bottom, left) boxes, numpy embeddings. Everything else
stays importable from its module (facerec.model.classify, facerec.evidence, facerec.store, ...).
Models load lazily on first use; importing this package loads no weights and does not import torch.
"""

from facerec.enroll import EnrolmentResult, enroll
from facerec.errors import EnrolmentError, FacerecError, ImageError, ModelError, StoreError
from facerec.imageio import load_image
from facerec.model import UNKNOWN, FaceModel, load_model, save_model
from facerec.pipeline import detect_faces, embed_faces
from facerec.serve import identify
from facerec.types import Box, Identification

__all__ = [
    "UNKNOWN",
    "Box",
    "EnrolmentError",
    "EnrolmentResult",
    "FaceModel",
    "FacerecError",
    "Identification",
    "ImageError",
    "ModelError",
    "StoreError",
    "detect_faces",
    "embed_faces",
    "enroll",
    "identify",
    "load_image",
    "load_model",
    "save_model",
]
