"""Labelled sources grouped by session: person folders, NAME=path, labelled videos, the course encoding pickle.

A session is one sitting in front of a camera: a video, a folder of photos, or the encoding pickle. The
unknown threshold is chosen from genuine samples of sessions held out whole, so sessions must be told apart:
by default each video is a session and the photos directly in one folder are a session (so a person folder
with sub-folders `day1/`, `day2/` has two); a sessions mapping {file or folder name: session} overrides.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from facerec.config import DEFAULT, Config
from facerec.embedding import normalise
from facerec.errors import EnrolmentError, FacerecError
from facerec.imageio import count_frames, is_video, iter_video_frames, load_image
from facerec.safe_pickle import load_course_encoding

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm"})
_PICKLE_MAGIC = b"\x80"


@dataclass(frozen=True)
class FrameWindow:
    """Which frames of a video (or images of a person folder) to use: [start, stop) fractions, every n-th."""

    start: float = 0.0
    stop: float = 1.0
    every: int = 1

    @classmethod
    def parse(cls, spec: str, every: int = 1) -> FrameWindow:
        """From "A:B" fractions, either side optional (":0.4" = first 40 %, "0.4:" = the rest)."""
        try:
            start, stop = spec.split(":")
            window = cls(float(start or 0), float(stop or 1), every)
        except ValueError:
            raise ValueError(f"--frames wants START:STOP fractions like ':0.4' or '0.4:', got {spec!r}") from None
        if not 0 <= window.start < window.stop <= 1 or every < 1:
            raise ValueError(f"bad frame window {spec!r} / every {every}")
        return window

    def indices(self, count: int) -> range:
        """Indices out of count items: floor(start*count) up to floor(stop*count), every n-th."""
        return range(int(self.start * count), int(self.stop * count), self.every)

    def __str__(self) -> str:
        return f"indices [floor({self.start:g}*n), floor({self.stop:g}*n)) of n frames, every {self.every}"


@dataclass(frozen=True)
class Sample:
    """One labelled input from a session: an image (a file or a video frame), a ready embedding, or a load error."""

    label: str
    origin: str
    frame: int | None = None
    session: str = ""
    image: np.ndarray | None = None
    embedding: np.ndarray | None = None
    error: str | None = None


ALL_FRAMES = FrameWindow()


@dataclass(frozen=True)
class Reading:
    """How to read sources: person names and session names by file name, and which frames to take."""

    labels: dict[str, str] = field(default_factory=dict)
    sessions: dict[str, str] = field(default_factory=dict)
    window: FrameWindow = ALL_FRAMES
    config: Config = DEFAULT

    def session_of(self, path: Path) -> str:
        """A video's own name, a photo's folder name, unless the sessions mapping names the file or folder."""
        default = path.name if is_video(path) or path.is_dir() else path.parent.name
        return self.sessions.get(path.name, self.sessions.get(path.parent.name, default))


def iter_samples(specs: list[str], reading: Reading | None = None) -> Iterator[Sample]:
    """Samples of every source, in source order then file/frame order."""
    for spec in specs:
        yield from _iter_spec(spec, reading or Reading())


def _iter_spec(spec: str, reading: Reading) -> Iterator[Sample]:
    name, sep, rest = spec.partition("=")
    if sep and not Path(spec).exists():
        yield from _iter_person(name, Path(rest), reading)
        return
    path = Path(spec)
    if path.is_dir():
        yield from _iter_folder(path, reading)
    elif path.is_file() and _starts_with(path, _PICKLE_MAGIC):
        yield from _iter_encoding(path, reading)
    elif path.is_file():
        yield from _iter_media(_label_of(path, reading.labels), path, reading)
    else:
        raise EnrolmentError(f"no such source: {spec}")


def _iter_folder(folder: Path, reading: Reading) -> Iterator[Sample]:
    for entry in sorted(folder.iterdir()):
        if entry.is_dir():
            yield from _iter_person(entry.name, entry, reading)
        elif _is_media(entry):
            yield from _iter_media(_label_of(entry, reading.labels), entry, reading)


def _iter_person(name: str, path: Path, reading: Reading) -> Iterator[Sample]:
    """One person's file, or folder of videos, photos and session sub-folders (one level deep)."""
    if not name:
        raise EnrolmentError(f"empty person name for {path}")
    if path.is_file():
        yield from _iter_media(name, path, reading)
        return
    if not path.is_dir():
        raise EnrolmentError(f"no such file or folder for {name}: {path}")
    for folder in [path, *sorted(p for p in path.iterdir() if p.is_dir())]:
        videos = sorted(p for p in folder.iterdir() if is_video(p))
        images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        for video in videos:
            yield from _iter_media(name, video, reading)
        for index in reading.window.indices(len(images)):
            yield from _iter_media(name, images[index], reading)


def _iter_media(label: str, path: Path, reading: Reading) -> Iterator[Sample]:
    session = reading.session_of(path)
    if is_video(path):
        try:
            frames = iter_video_frames(path, reading.window.indices(count_frames(path)), reading.config)
            for index, frame in frames:
                yield Sample(label, str(path), index, session, image=frame)
        except FacerecError as exc:
            yield Sample(label, str(path), session=session, error=str(exc))
        return
    try:
        yield Sample(label, str(path), session=session, image=load_image(path, reading.config))
    except FacerecError as exc:
        yield Sample(label, str(path), session=session, error=str(exc))


def _iter_encoding(path: Path, reading: Reading) -> Iterator[Sample]:
    """The course pickle: one vector per person, all from one photo set, so one session (the file's name)."""
    names, vectors = load_course_encoding(path.read_bytes())
    session = reading.sessions.get(path.name, path.name)
    for index, (name, vector) in enumerate(zip(names, normalise(vectors), strict=True)):
        yield Sample(name, f"{path}#{name}", index, session, embedding=vector)


def _label_of(path: Path, labels: dict[str, str]) -> str:
    try:
        return labels[path.name]
    except KeyError:
        raise EnrolmentError(f"{path} has no label: use NAME={path}, a person folder, or --labels") from None


def _starts_with(path: Path, magic: bytes) -> bool:
    with path.open("rb") as handle:
        return handle.read(len(magic)) == magic


def _is_media(path: Path) -> bool:
    return is_video(path) or path.suffix.lower() in IMAGE_SUFFIXES
