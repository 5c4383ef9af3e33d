"""Plain result types shared across the package."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


class Box(NamedTuple):
    """A face box in image pixels, (top, right, bottom, left) like face_recognition; right/bottom exclusive."""

    top: int
    right: int
    bottom: int
    left: int

    @property
    def width(self) -> int:
        """Width in pixels."""
        return self.right - self.left

    @property
    def height(self) -> int:
        """Height in pixels."""
        return self.bottom - self.top


@dataclass(frozen=True)
class Identification:
    """One face's answer: name ("unknown" for a stranger), confidence 0..1, embedding distance, box."""

    name: str
    confidence: float
    distance: float
    box: Box

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {"name": self.name, "confidence": round(self.confidence, 4),
                "distance": round(self.distance, 4), "box": list(self.box)}
