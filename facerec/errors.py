"""Errors raised by facerec; "no face" and "unknown" are results, not errors."""


class FacerecError(Exception):
    """Base class for every facerec error."""


class ImageError(FacerecError):
    """The input is not a decodable, supported, reasonably sized image or video."""


class ModelError(FacerecError):
    """A model artifact is missing, corrupt, or made for another embedding model."""


class EnrolmentError(FacerecError):
    """Enrolment sources are unusable (unknown kind, too few people or faces)."""


class StoreError(FacerecError):
    """Publishing or fetching a model in S3 failed (bad pointer, missing objects)."""
