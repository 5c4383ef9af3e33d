"""FileCamera replays real course videos: clip length, frame rate, looping, pacing, decodable MP4."""

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from device.camera import FileCamera
from device.errors import CameraError

VIDEOS = Path(__file__).resolve().parents[2] / "fixtures" / "videos"
SHORT_480P = VIDEOS / "test_4.mp4"  # 854×480, 24 fps, 48 frames: exactly 4 clips of 0.5 s
TINY_720P = VIDEOS / "test_7.mp4"  # 1280×720, 23.976 fps, 25 frames


def read_frames(path: Path) -> tuple[list[np.ndarray], float]:
    """Every frame OpenCV decodes from a clip, and the clip's frame rate."""
    capture = cv2.VideoCapture(str(path))
    frames = []
    ok, frame = capture.read()
    while ok:
        frames.append(frame)
        ok, frame = capture.read()
    fps = capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    return frames, fps


def test_clip_has_half_a_second_of_frames_at_the_source_rate(tmp_path: Path) -> None:
    camera = FileCamera(SHORT_480P, realtime=False)
    info = camera.record_clip(tmp_path / "clip.mp4", 0.5)
    camera.close()

    frames, fps = read_frames(info.path)
    assert (info.frames, info.width, info.height) == (12, 854, 480)
    assert info.fps == pytest.approx(24.0)
    assert len(frames) == 12
    assert fps == pytest.approx(24.0)
    assert frames[0].shape[:2] == (info.height, info.width)
    assert info.bytes == info.path.stat().st_size > 0
    assert info.sources == ("test_4.mp4",) * 12


def test_playback_loops_forever(tmp_path: Path) -> None:
    camera = FileCamera(SHORT_480P, realtime=False)
    clips = [camera.record_clip(tmp_path / f"{n}.mp4", 0.5) for n in range(5)]
    camera.close()

    first, fifth = read_frames(clips[0].path)[0], read_frames(clips[4].path)[0]
    second = read_frames(clips[1].path)[0]
    assert np.mean(cv2.absdiff(first[0], fifth[0])) < 1.0
    assert np.mean(cv2.absdiff(first[0], second[0])) > np.mean(cv2.absdiff(first[0], fifth[0]))


def test_folder_plays_in_name_order_across_files_and_downscales(tmp_path: Path) -> None:
    folder = tmp_path / "videos"
    folder.mkdir()
    (folder / "a.mp4").symlink_to(TINY_720P)
    (folder / "b.mp4").symlink_to(SHORT_480P)
    (folder / "notes.txt").write_text("not a video")
    camera = FileCamera(folder, realtime=False, max_width=640)
    clips = [camera.record_clip(tmp_path / f"{n}.mp4", 0.5) for n in range(3)]
    camera.close()

    assert clips[0].sources == ("a.mp4",) * 12
    assert clips[2].sources == ("a.mp4",) + ("b.mp4",) * 11
    assert {(c.width, c.height) for c in clips} == {(640, 360)}
    assert len(read_frames(clips[2].path)[0]) == 12


def test_realtime_pacing_takes_the_clip_duration(tmp_path: Path) -> None:
    camera = FileCamera(SHORT_480P, realtime=True, max_width=320)
    started = time.monotonic()
    camera.record_clip(tmp_path / "clip.mp4", 0.5)
    elapsed = time.monotonic() - started
    camera.close()
    assert elapsed >= 0.49  # paced by the clip's duration (an upper bound would measure the machine)


def test_missing_or_empty_source_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CameraError, match="does not exist"):
        FileCamera(tmp_path / "nope.mp4")
    with pytest.raises(CameraError, match="no video files"):
        FileCamera(tmp_path)
