"""Cameras: a small protocol, FileCamera (replays videos anywhere) and Picamera2Camera (a Pi).

picamera2 is imported only when a Picamera2Camera is created, so this module imports anywhere.
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from contract import utc_now
from device.errors import CameraError, CameraUnavailableError

logger = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".avi", ".mkv"})
FALLBACK_FPS = 30.0
PI_SIZE = (640, 480)
PICAMERA2_MISSING = (
    "picamera2 is not installed: on a Raspberry Pi run `sudo apt install python3-picamera2` "
    "(or `pip install 'facepipe[pi]'`); elsewhere use --camera file:PATH"
)


@dataclass(frozen=True)
class ClipInfo:
    """One recorded clip: where, when its first frame was captured, and what it holds."""

    path: Path
    captured_at: datetime
    frames: int
    fps: float
    width: int
    height: int
    bytes: int
    sources: tuple[str, ...] = ()
    """File name of the video each frame came from (FileCamera only), one entry per frame."""


class Camera(Protocol):
    """Anything that records a clip of about `seconds` into an MP4 file at `path`."""

    def record_clip(self, path: Path, seconds: float) -> ClipInfo:
        """Record one clip, blocking for about its duration when pacing in real time."""
        ...

    def close(self) -> None:
        """Release the device or files."""
        ...


@dataclass(frozen=True)
class _Frame:
    image: np.ndarray
    fps: float
    source: str


class FileCamera:
    """Replays a video file, or a folder's videos in name order, at their native frame rate, looping."""

    def __init__(self, source: Path, *, realtime: bool = True, max_width: int | None = None) -> None:
        self._paths = _video_paths(Path(source))
        self._realtime = realtime
        self._max_width = max_width
        self._index = -1
        self._capture: Any = None
        self._fps = FALLBACK_FPS

    def record_clip(self, path: Path, seconds: float) -> ClipInfo:
        """Write round(seconds × fps) frames as MP4 (mp4v); fps is that of the video the clip starts in."""
        captured_at = utc_now()
        start = time.monotonic()
        first = self._next_frame()
        count = max(1, round(seconds * first.fps))
        size = self._clip_size(first.image)
        sources = self._write_clip(path, first, count, size, start)
        self._pace(start + count / first.fps)
        return ClipInfo(path, captured_at, count, first.fps, size[0], size[1], path.stat().st_size, tuple(sources))

    def close(self) -> None:
        """Release the open video file."""
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def _write_clip(self, path: Path, first: _Frame, count: int, size: tuple[int, int], start: float) -> list[str]:
        """Encode `count` frames starting with `first`; frame i is written at start + i / fps."""
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), first.fps, size)
        if not writer.isOpened():
            raise CameraError(f"cannot write an MP4 clip to {path}")
        sources = []
        try:
            frame = first
            for index in range(count):
                frame = frame if index == 0 else self._next_frame()
                self._pace(start + index / first.fps)
                writer.write(_fit(frame.image, size))
                sources.append(frame.source)
        finally:
            writer.release()
        return sources

    def _pace(self, deadline: float) -> None:
        """Sleep until the monotonic deadline when replaying in real time."""
        if self._realtime:
            time.sleep(max(0.0, deadline - time.monotonic()))

    def _clip_size(self, image: np.ndarray) -> tuple[int, int]:
        """(width, height) of the clip: the frame's, scaled down to max_width, both even."""
        height, width = image.shape[:2]
        if self._max_width and width > self._max_width:
            height, width = round(height * self._max_width / width), self._max_width
        return width - width % 2, height - height % 2

    def _next_frame(self) -> _Frame:
        """The next frame of the playlist, moving to the next video (and around) at each end."""
        for _ in range(len(self._paths) + 1):
            if self._capture is not None:
                ok, image = self._capture.read()
                if ok:
                    return _Frame(image, self._fps, self._paths[self._index].name)
            self._open_next()
        raise CameraError(f"no readable frames in {[str(p) for p in self._paths]}")

    def _open_next(self) -> None:
        """Close the current video and open the next one in the playlist."""
        self.close()
        self._index = (self._index + 1) % len(self._paths)
        path = self._paths[self._index]
        capture = cv2.VideoCapture(str(path))
        if not capture.isOpened():
            logger.warning("cannot open %s, skipping it", path)
            return
        fps = capture.get(cv2.CAP_PROP_FPS)
        self._fps = fps if 1 <= fps <= 240 else FALLBACK_FPS
        self._capture = capture


class Picamera2Camera:
    """A Raspberry Pi camera through picamera2: hardware H.264 into MP4, 640×480 by default."""

    def __init__(self, size: tuple[int, int] = PI_SIZE, fps: float = 30.0) -> None:
        picamera2, self._encoder_class, self._output_class = _import_picamera2()
        self._camera = picamera2.Picamera2()
        config = self._camera.create_video_configuration(main={"size": size}, controls={"FrameRate": fps})
        self._camera.configure(config)
        self._camera.start()

    def record_clip(self, path: Path, seconds: float) -> ClipInfo:
        """Encode `seconds` of the running camera into `path`; a new encoder starts on a key frame."""
        captured_at = utc_now()
        self._camera.start_encoder(self._encoder_class(), self._output_class(str(path)))
        time.sleep(seconds)
        self._camera.stop_encoder()
        return probe_clip(path, captured_at)

    def close(self) -> None:
        """Stop and release the camera."""
        self._camera.stop()
        self._camera.close()


def probe_clip(path: Path, captured_at: datetime) -> ClipInfo:
    """Describe an existing clip by reading its container headers with OpenCV."""
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise CameraError(f"the recorded clip {path} cannot be read")
        frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = capture.get(cv2.CAP_PROP_FPS)
        width, height = (
            int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
    finally:
        capture.release()
    return ClipInfo(path, captured_at, frames, fps, width, height, path.stat().st_size)


def open_camera(spec: str, *, realtime: bool = True, max_width: int | None = None) -> Camera:
    """Camera from a spec: `picamera2` or `file:PATH` (a video or a folder); max_width is for files."""
    if spec == "picamera2":
        return Picamera2Camera()
    scheme, _, rest = spec.partition(":")
    if scheme == "file" and rest:
        return FileCamera(Path(rest), realtime=realtime, max_width=max_width)
    raise CameraError(f"unknown camera {spec!r}: use 'picamera2' or 'file:PATH'")


def _import_picamera2() -> tuple[Any, Any, Any]:
    """(picamera2 module, H264Encoder, an MP4 output class), or CameraUnavailableError."""
    try:
        import picamera2
        from picamera2.encoders import H264Encoder
    except ImportError as exc:
        raise CameraUnavailableError(PICAMERA2_MISSING) from exc
    try:
        from picamera2.outputs import PyavOutput as Output
    except ImportError:
        logger.info("picamera2 has no PyavOutput (older than 0.3.2x): using FfmpegOutput")
        from picamera2.outputs import FfmpegOutput as Output
    return picamera2, H264Encoder, Output


def _video_paths(source: Path) -> list[Path]:
    """The playlist: the file itself, or the folder's video files sorted by name."""
    if source.is_file():
        return [source]
    if source.is_dir():
        paths = sorted(p for p in source.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
        if paths:
            return paths
        raise CameraError(f"no video files ({', '.join(sorted(VIDEO_SUFFIXES))}) in {source}")
    raise CameraError(f"camera source {source} does not exist")


def _fit(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The image resized to (width, height) unless it already has that size."""
    if (image.shape[1], image.shape[0]) == size:
        return image
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)
