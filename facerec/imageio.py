"""Image and video decoding: header checks before decoding, BGR uint8 out, bounded size."""

from __future__ import annotations

import logging
import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facerec.config import DEFAULT, Config
from facerec.errors import ImageError

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"})
_JPEG_REDUCED = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
                 8: cv2.IMREAD_REDUCED_COLOR_8}
_PNG_CHANNELS = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}


@dataclass(frozen=True)
class Header:
    """What a file's header declares: format, size in pixels, decoded bytes per pixel."""

    kind: str
    width: int
    height: int
    bytes_per_pixel: int


def load_image(source: str | Path | bytes | bytearray | memoryview, config: Config = DEFAULT) -> np.ndarray:
    """Decode a PNG/JPEG/BMP/PNM path or bytes to BGR uint8, longest side at most config.max_side."""
    data = _read_bytes(source, config)
    header = read_header(data)
    reduction = _jpeg_reduction(header, config) if header.kind == "jpeg" else 1
    decoded = (header.width // reduction) * (header.height // reduction) * header.bytes_per_pixel
    if decoded > config.max_decode_bytes:
        raise ImageError(f"{header.width}x{header.height} {header.kind} would decode to {decoded} bytes "
                         f"(limit {config.max_decode_bytes})")
    flags = _JPEG_REDUCED[reduction] if header.kind == "jpeg" else cv2.IMREAD_UNCHANGED
    image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if image is None or image.size == 0:
        raise ImageError(f"could not decode {header.kind} data ({len(data)} bytes)")
    return bound_size(to_bgr(image), config.max_side)


def to_bgr(image: np.ndarray) -> np.ndarray:
    """Normalise a decoded array (grey, grey+alpha, BGR, BGRA; 8 or 16 bit) to BGR uint8."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ImageError(f"unsupported pixel type {image.dtype}")
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 2, 3, 4):
        raise ImageError(f"unsupported image shape {image.shape}")
    channels = image.shape[2]
    if channels <= 2:
        return np.ascontiguousarray(np.repeat(image[:, :, :1], 3, axis=2))
    return np.ascontiguousarray(image[:, :, :3])


def bound_size(image: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink so the longest side is at most max_side (area interpolation); smaller images pass."""
    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def read_header(data: bytes) -> Header:
    """Parse the dimensions from a PNG, JPEG, BMP or PNM header without decoding pixels."""
    for magic, parser in _PARSERS:
        if data.startswith(magic):
            try:
                header = parser(data)
            except (struct.error, ValueError, IndexError) as exc:
                raise ImageError(f"corrupt {parser.__name__[7:]} header: {exc}") from exc
            if header.width <= 0 or header.height <= 0:
                raise ImageError(f"{header.kind} header declares {header.width}x{header.height}")
            return header
    raise ImageError("not a supported image (PNG, JPEG, BMP, PGM/PPM)")


def is_video(path: str | Path) -> bool:
    """Whether a path names a video file, by suffix."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def count_frames(path: str | Path) -> int:
    """Number of frames in a video, counted by reading when the container does not say."""
    capture = _open_video(path)
    try:
        declared = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        if declared > 0:
            return declared
        count = 0
        while capture.grab():
            count += 1
        return count
    finally:
        capture.release()


def iter_video_frames(path: str | Path, frames: range | None = None,
                      config: Config = DEFAULT) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (index, BGR frame) for the frame indices in `frames` (all when None), in order."""
    capture = _open_video(path)
    try:
        index = 0
        while frames is None or index < frames.stop:
            if not capture.grab():
                break
            if frames is None or index in frames:
                ok, frame = capture.retrieve()
                if ok:
                    yield index, bound_size(to_bgr(frame), config.max_side)
            index += 1
    finally:
        capture.release()


def _open_video(path: str | Path) -> cv2.VideoCapture:
    if not Path(path).is_file():
        raise ImageError(f"no such video: {path}")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ImageError(f"cannot open video: {path}")
    return capture


def _read_bytes(source: str | Path | bytes | bytearray | memoryview, config: Config) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise ImageError(f"no such file: {path}")
        if path.stat().st_size > config.max_decode_bytes:
            raise ImageError(f"{path} is larger than {config.max_decode_bytes} bytes")
        data = path.read_bytes()
    if not data:
        raise ImageError("empty image data")
    return data


def _jpeg_reduction(header: Header, config: Config) -> int:
    """Largest libjpeg scale-down (1, 2, 4, 8) that keeps the longest side at least max_side."""
    longest = max(header.width, header.height)
    fits = [r for r in _JPEG_REDUCED if math.ceil(longest / r) >= config.max_side]
    return max(fits, default=1)


def _parse_png(data: bytes) -> Header:
    if data[12:16] != b"IHDR":
        raise ValueError("first chunk is not IHDR")
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    channels = max(3, _PNG_CHANNELS[colour])
    return Header("png", width, height, channels * max(1, depth // 8))


def _parse_jpeg(data: bytes) -> Header:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ValueError(f"expected a marker at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if 0xD0 <= marker <= 0xD9 or marker == 0x01:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[pos + 5:pos + 9])
            return Header("jpeg", width, height, 3)
        pos += 2 + length
    raise ValueError("no frame (SOF) marker")


def _parse_bmp(data: bytes) -> Header:
    width, height = struct.unpack("<ii", data[18:26])
    return Header("bmp", width, abs(height), 4)


def _parse_pnm(data: bytes) -> Header:
    tokens: list[bytes] = []
    for line in data[:1024].split(b"\n"):
        tokens += line.split(b"#")[0].split()
        if len(tokens) >= 4:
            break
    width, height, maxval = (int(t) for t in tokens[1:4])
    return Header("pnm", width, height, 3 * (2 if maxval > 255 else 1))


_PARSERS = (
    (b"\x89PNG\r\n\x1a\n", _parse_png),
    (b"\xff\xd8", _parse_jpeg),
    (b"BM", _parse_bmp),
    (b"P5", _parse_pnm),
    (b"P6", _parse_pnm),
)
