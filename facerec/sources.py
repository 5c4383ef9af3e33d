"""Labelled sources: person folders, NAME=path, videos named in a labels file, the course encoding pickle."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
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
    """One labelled input: an image (a file or a video frame), a ready embedding, or a load error."""

    label: str
    origin: str
    frame: int | None = None
    image: np.ndarray | None = None
    embedding: np.ndarray | None = None
    error: str | None = None


ALL_FRAMES = FrameWindow()


def iter_samples(specs: list[str], labels: dict[str, str] | None = None, window: FrameWindow = ALL_FRAMES,
                 config: Config = DEFAULT) -> Iterator[Sample]:
    """Samples of every source, in source order then file/frame order."""
    for spec in specs:
        yield from _iter_spec(spec, labels or {}, window, config)


def _iter_spec(spec: str, labels: dict[str, str], window: FrameWindow, config: Config) -> Iterator[Sample]:
    name, sep, rest = spec.partition("=")
    if sep and not Path(spec).exists():
        yield from _iter_person(name, Path(rest), window, config)
        return
    path = Path(spec)
    if path.is_dir():
        yield from _iter_folder(path, labels, window, config)
    elif path.is_file() and _starts_with(path, _PICKLE_MAGIC):
        yield from _iter_encoding(path)
    elif path.is_file():
        yield from _iter_media(_label_of(path, labels), path, window, config)
    else:
        raise EnrolmentError(f"no such source: {spec}")


def _iter_folder(folder: Path, labels: dict[str, str], window: FrameWindow, config: Config) -> Iterator[Sample]:
    for entry in sorted(folder.iterdir()):
        if entry.is_dir():
            yield from _iter_person(entry.name, entry, window, config)
        elif _is_media(entry):
            yield from _iter_media(_label_of(entry, labels), entry, window, config)


def _iter_person(name: str, path: Path, window: FrameWindow, config: Config) -> Iterator[Sample]:
    if not name:
        raise EnrolmentError(f"empty person name for {path}")
    if path.is_file():
        yield from _iter_media(name, path, window, config)
        return
    if not path.is_dir():
        raise EnrolmentError(f"no such file or folder for {name}: {path}")
    videos = sorted(p for p in path.iterdir() if is_video(p))
    images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    for video in videos:
        yield from _iter_media(name, video, window, config)
    for index in window.indices(len(images)):
        yield from _iter_media(name, images[index], window, config)


def _iter_media(label: str, path: Path, window: FrameWindow, config: Config) -> Iterator[Sample]:
    if is_video(path):
        try:
            for index, frame in iter_video_frames(path, window.indices(count_frames(path)), config):
                yield Sample(label, str(path), index, image=frame)
        except FacerecError as exc:
            yield Sample(label, str(path), error=str(exc))
        return
    try:
        yield Sample(label, str(path), image=load_image(path, config))
    except FacerecError as exc:
        yield Sample(label, str(path), error=str(exc))


def _iter_encoding(path: Path) -> Iterator[Sample]:
    names, vectors = load_course_encoding(path.read_bytes())
    for index, (name, vector) in enumerate(zip(names, normalise(vectors), strict=True)):
        yield Sample(name, f"{path}#{name}", index, embedding=vector)


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
