"""Session fixtures: real frames from the course videos, the ready fixture models, a small trained model."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from facerec.embedding import normalise
from facerec.imageio import count_frames, iter_video_frames
from facerec.model import FaceModel, load_model
from facerec.safe_pickle import load_course_encoding

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
VIDEOS = FIXTURES / "videos"
LABELS: dict[str, str] = json.loads((FIXTURES / "labels.json").read_text())


def frame_of(video: str, position: float) -> np.ndarray:
    """The frame at a fraction of a course video's length."""
    path = VIDEOS / video
    index = int(count_frames(path) * position)
    return next(iter_video_frames(path, range(index, index + 1)))[1]


@pytest.fixture(scope="session")
def frame_at() -> Callable[[str, float], np.ndarray]:
    """frame_of(video, position) as a fixture, so test modules need not import conftest."""
    return frame_of


@pytest.fixture(scope="session")
def frames() -> dict[str, np.ndarray]:
    """One held-out frame (at 70 % of the video, never used for enrolment) per enrolled person."""
    return {name: frame_of(video, 0.7) for video, name in LABELS.items()}


@pytest.fixture(scope="session")
def trump(frames: dict[str, np.ndarray]) -> np.ndarray:
    """A 1280x720 frame with one face (president_trump)."""
    return frames["president_trump"]


@pytest.fixture(scope="session")
def two_faces() -> np.ndarray:
    """test_5 frame 2: vin_diesel plus a blurred second person."""
    return next(iter_video_frames(VIDEOS / "test_5.mp4", range(2, 3)))[1]


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The repository's fixtures/ folder."""
    return FIXTURES


@pytest.fixture(scope="session")
def course_encoding() -> tuple[list[str], np.ndarray]:
    """The course's 11 names and unit vectors (8 enrolled people, 3 strangers to the video model)."""
    names, vectors = load_course_encoding((FIXTURES / "encoding").read_bytes())
    return names, normalise(vectors)


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The ready model enrolled from the first 40 % of each course video."""
    return FIXTURES / "model"


@pytest.fixture(scope="session")
def model(model_dir: Path) -> FaceModel:
    """The fixture model, loaded once."""
    return load_model(model_dir)


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model enrolled from every 4th of the first 40 % of frames of three videos, saved to disk; read-only.

    Made once per run: the four files that read it may run on different xdist workers, whose temporary folders
    share this run's parent folder; the first worker trains it under a lock, the others wait and read it."""
    base = tmp_path_factory.getbasetemp()
    run_folder = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    directory = run_folder / "trained-model"
    with (run_folder / "trained-model.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not directory.is_dir():
            _train_into(directory)
    return directory


def _train_into(directory: Path) -> None:
    """Trains the small model into `directory`, which appears whole (renamed into place) or not at all."""
    from facerec.enroll import collect, train
    from facerec.model import save_model
    from facerec.sources import FrameWindow, Reading, iter_samples

    labels = {v: LABELS[v] for v in ("test_0.mp4", "test_7.mp4", "test_8.mp4")}
    specs = [f"{name}={VIDEOS / video}" for video, name in labels.items()]
    enrolled = collect(iter_samples(specs, Reading(window=FrameWindow(0.0, 0.4, 4))))
    staging = directory.with_name(f"{directory.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    save_model(train(enrolled).model, staging)
    staging.rename(directory)
