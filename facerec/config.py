"""Tunable settings of the face pipeline, each with a default and bounds."""

from __future__ import annotations

from dataclasses import dataclass, fields

DETECTOR_DEFAULT = "mtcnn"


@dataclass(frozen=True)
class Config:
    """Pipeline settings; sizes in pixels, checked against bounds on construction."""

    max_side: int = 1280  # longest side an image is reduced to when loaded
    max_decode_bytes: int = 256 * 2**20  # header-declared decoded size above which a file is refused
    detect_side: int = 640  # detection runs on a copy whose longest side is at most this
    min_face_px: int = 40  # smallest face the detector looks for, at detection scale
    detector: str = DETECTOR_DEFAULT
    crop_max_side: int = 256  # a face-less image this small and face-shaped is taken as a crop
    crop_min_side: int = 48
    crop_min_contrast: float = 8.0  # grey-level standard deviation a crop needs (flat images are no face)
    min_enrol_face_px: int = 60  # enrolment: smaller faces (at image scale) are left out
    min_sharpness: float = 25.0  # enrolment: contrast-normalised Laplacian variance of the chip below this is blur

    def __post_init__(self) -> None:
        for name, (low, high) in _BOUNDS.items():
            value = getattr(self, name)
            if not low <= value <= high:
                raise ValueError(f"{name}={value} outside [{low}, {high}]")

    @classmethod
    def from_dict(cls, data: dict) -> Config:
        """Build from a mapping; unknown keys are errors."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        return cls(**data)


_BOUNDS: dict[str, tuple[float, float]] = {
    "max_side": (64, 8192),
    "max_decode_bytes": (2**20, 4 * 2**30),
    "detect_side": (64, 4096),
    "min_face_px": (12, 1024),
    "crop_max_side": (32, 1024),
    "crop_min_side": (8, 1024),
    "crop_min_contrast": (0.0, 128.0),
    "min_enrol_face_px": (0, 4096),
    "min_sharpness": (0.0, 10_000.0),
}

DEFAULT = Config()
