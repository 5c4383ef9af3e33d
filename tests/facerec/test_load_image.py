"""load_image: formats, channel layouts, bit depths, bounds, and refusal of bad input."""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from facerec import ImageError, detect_faces, identify, load_image
from facerec.config import Config


def _png(array: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", array)
    assert ok
    return data.tobytes()


def test_png_path_and_bytes_agree(trump, tmp_path):
    path = tmp_path / "frame.png"
    path.write_bytes(_png(trump))
    from_path, from_bytes = load_image(path), load_image(path.read_bytes())
    assert from_path.dtype == np.uint8 and from_path.shape == trump.shape
    assert np.array_equal(from_path, trump) and np.array_equal(from_bytes, trump)


def test_jpeg_decodes_to_bgr(trump):
    _, data = cv2.imencode(".jpg", trump, [cv2.IMWRITE_JPEG_QUALITY, 95])
    image = load_image(data.tobytes())
    assert image.shape == trump.shape
    assert np.abs(image.astype(int) - trump).mean() < 4


def test_grayscale_becomes_three_equal_channels(trump):
    grey = cv2.cvtColor(trump, cv2.COLOR_BGR2GRAY)
    image = load_image(_png(grey))
    assert image.shape == (*grey.shape, 3)
    assert np.array_equal(image[:, :, 0], grey) and np.array_equal(image[:, :, 2], grey)


def test_rgba_drops_alpha(trump):
    bgra = cv2.cvtColor(trump, cv2.COLOR_BGR2BGRA)
    bgra[:, :, 3] = 7
    assert np.array_equal(load_image(_png(bgra)), trump)


def test_16_bit_is_scaled_to_8_bit(trump):
    wide = trump.astype(np.uint16) * 257
    assert np.array_equal(load_image(_png(wide)), trump)


def test_one_pixel_image_has_no_face(model):
    image = load_image(_png(np.full((1, 1, 3), 128, np.uint8)))
    assert image.shape == (1, 1, 3)
    assert detect_faces(image) == [] and identify(image, model) == []


def test_huge_jpeg_is_decoded_reduced_and_bounded():
    _, data = cv2.imencode(".jpg", np.zeros((12000, 12000), np.uint8))
    image = load_image(data.tobytes())
    assert max(image.shape[:2]) == Config().max_side
    assert detect_faces(image) == []


def test_large_png_is_downscaled():
    image = load_image(_png(np.zeros((3000, 2000, 3), np.uint8)), Config(max_side=640))
    assert image.shape == (640, 427, 3)


def test_decompression_bomb_is_refused_from_its_header():
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    with pytest.raises(ImageError, match="would decode"):
        load_image(b"\x89PNG\r\n\x1a\n" + chunk)


@pytest.mark.parametrize("data", [b"", b"hello, I am text\n", b"\x89PNG\r\n\x1a\n" + b"\0" * 30,
                                  b"\xff\xd8\xff\xe0garbage"])
def test_bad_bytes_raise_image_error(data):
    with pytest.raises(ImageError):
        load_image(data)


def test_truncated_png_raises_image_error(trump):
    with pytest.raises(ImageError, match="could not decode"):
        load_image(_png(trump)[:2000])


def test_text_file_renamed_png_raises_image_error(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("not an image at all")
    with pytest.raises(ImageError, match="not a supported image"):
        load_image(path)


def test_missing_and_empty_files_raise_image_error(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    for path in (tmp_path / "absent.png", tmp_path / "empty.png"):
        with pytest.raises(ImageError):
            load_image(path)


@settings(max_examples=40, deadline=None)
@given(height=st.integers(1, 90), width=st.integers(1, 90), channels=st.sampled_from([1, 3, 4]),
       wide=st.booleans(), seed=st.integers(0, 2**16))
def test_any_png_layout_loads_as_bounded_bgr(height, width, channels, wide, seed):
    rng = np.random.default_rng(seed)
    dtype = np.uint16 if wide else np.uint8
    array = rng.integers(0, np.iinfo(dtype).max, (height, width, channels), dtype=dtype, endpoint=True)
    image = load_image(_png(array.squeeze(axis=2) if channels == 1 else array), Config(max_side=64))
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert max(image.shape[:2]) <= 64
    if max(height, width) <= 64 and channels == 3:
        expected = (array >> 8).astype(np.uint8) if wide else array
        assert np.array_equal(image, expected)
