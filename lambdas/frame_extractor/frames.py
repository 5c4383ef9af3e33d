"""Clip -> frames: which frames to keep, bounded decoding with OpenCV, PNG encoding."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ENV_FRAMES_PER_CLIP = "FRAMES_PER_CLIP"
ENV_MAX_CLIP_BYTES = "MAX_CLIP_BYTES"
ENV_MAX_CLIP_SECONDS = "MAX_CLIP_SECONDS"
ENV_FRAME_MAX_SIDE = "FRAME_MAX_SIDE"
ENV_MAX_CLIP_PIXELS = "MAX_CLIP_PIXELS"

_SELECTION_RE = re.compile(r"^(?:(?P<all>all)|(?P<count>\d+)|(?P<rate>\d+(?:\.\d+)?)fps)$")
_PNG_COMPRESSION = 1


class BadClipError(ValueError):
    """The clip can never be turned into frames (not a video, empty, too big): no retry helps."""


@dataclass(frozen=True)
class FrameSelection:
    """Which frames to keep: every frame, `count` evenly spaced per clip, or `per_second` per second."""

    every_frame: bool = False
    count: int | None = 1
    per_second: float | None = None

    @classmethod
    def parse(cls, text: str) -> FrameSelection:
        """`all`, `N` (N per clip, evenly spaced, the first included) or `Nfps` (N per second)."""
        match = _SELECTION_RE.match(text.strip().lower())
        if not match:
            raise ValueError(f"{ENV_FRAMES_PER_CLIP}: 'all', a count like '3' or a rate like '2fps', not {text!r}")
        if match["all"]:
            return cls(every_frame=True, count=None)
        if match["count"]:
            count = int(match["count"])
            if not 1 <= count <= 1000:
                raise ValueError(f"{ENV_FRAMES_PER_CLIP}: a count between 1 and 1000, not {count}")
            return cls(count=count)
        rate = float(match["rate"])
        if not 0 < rate <= 120:
            raise ValueError(f"{ENV_FRAMES_PER_CLIP}: a rate between 0 and 120 fps, not {rate}")
        return cls(count=None, per_second=rate)

    def indices(self, frame_count: int, fps: float) -> list[int]:
        """The frame indices to keep from a clip of `frame_count` frames at `fps`."""
        if frame_count <= 0:
            return []
        if self.every_frame:
            return list(range(frame_count))
        wanted = self.count if self.count is not None else max(1, math.floor(frame_count / fps * self.per_second))
        wanted = min(wanted, frame_count)
        return sorted({(i * frame_count) // wanted for i in range(wanted)})


@dataclass(frozen=True)
class Limits:
    """Bounds on a clip: bytes, seconds, pixels per decoded frame, and the longest side of a written frame."""

    max_bytes: int = 50 * 1024 * 1024
    max_seconds: float = 30.0
    frame_max_side: int = 1280
    max_pixels: int = 8192 * 4320  # DCI 8K; a small file must not decode into frames that exhaust memory

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Limits:
        return cls(
            max_bytes=int(env.get(ENV_MAX_CLIP_BYTES, cls.max_bytes)),
            max_seconds=float(env.get(ENV_MAX_CLIP_SECONDS, cls.max_seconds)),
            frame_max_side=int(env.get(ENV_FRAME_MAX_SIDE, cls.frame_max_side)),
            max_pixels=int(env.get(ENV_MAX_CLIP_PIXELS, cls.max_pixels)),
        )


def extract_frames(video: Path, selection: FrameSelection, limits: Limits) -> Iterator[tuple[int, bytes]]:
    """Yields (frame index, PNG bytes) for the selected frames of a video file."""
    capture = cv2.VideoCapture(str(video))
    try:
        if not capture.isOpened():
            raise BadClipError("not a readable video (OpenCV cannot open it)")
        frame_count, fps = _checked_bounds(capture, limits)
        wanted = selection.indices(frame_count, fps)
        if not wanted:
            raise BadClipError("the video has no frames")
        yield from _decode(capture, wanted, limits)
    finally:
        capture.release()


def _checked_bounds(capture: cv2.VideoCapture, limits: Limits) -> tuple[int, float]:
    """(frame count, fps) once the container's resolution, frame rate and duration are within the limits."""
    width, height = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    if width * height > limits.max_pixels:
        raise BadClipError(f"the video is {width}x{height}, over the {limits.max_pixels}-pixel frame limit")
    frame_count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
    if fps <= 0 or fps > 1000:
        raise BadClipError(f"the video reports an impossible frame rate ({fps})")
    if frame_count / fps > limits.max_seconds:
        raise BadClipError(f"the clip lasts {frame_count / fps:.1f} s, over the {limits.max_seconds:.0f} s limit")
    return frame_count, fps


def _decode(capture: cv2.VideoCapture, wanted: list[int], limits: Limits) -> Iterator[tuple[int, bytes]]:
    remaining = set(wanted)
    decoded_any = False
    for index in range(wanted[-1] + 1):
        ok = capture.grab()
        if not ok:
            break
        if index not in remaining:
            continue
        ok, frame = capture.retrieve()
        if not ok:
            break
        decoded_any = True
        remaining.discard(index)
        yield index, encode_png(fit_within(frame, limits.frame_max_side))
    if not decoded_any:
        raise BadClipError("no frame could be decoded (truncated or corrupt video)")


def fit_within(frame: np.ndarray, max_side: int) -> np.ndarray:
    """Downscales a frame so its longer side is at most `max_side` pixels."""
    height, width = frame.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return frame
    return cv2.resize(frame, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)


def encode_png(frame: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(".png", frame, [cv2.IMWRITE_PNG_COMPRESSION, _PNG_COMPRESSION])
    if not ok:
        raise BadClipError("a decoded frame could not be encoded as PNG")
    return buffer.tobytes()
