"""Workloads: what to upload, in which order, and the expected person for each upload.

- `course`: the course's 100-video case (test_case_2): the 8 course videos repeated. Its requests are
  named test_0, test_1, test_2, test_4, ... test_100 (there is no test_3); request i (0-based) sends
  the (i mod 8)-th video in number order, except test_100, which the course's mapping answers as
  test_2 (mr_bean). The course's own file `fixtures/mapping` is reproduced exactly (see the tests).
- `clips`: 0.5 s clips cut by the device's FileCamera from the course videos played in a loop, as a
  Pi would record them; a clip that runs across two videos accepts either person.
- a folder: its videos in name order, repeated, labelled by the folder's `labels.json`.
"""

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from contract import LABELS_FILE, Student, load_labels
from grader.config import FIXTURES
from grader.errors import WorkloadError

logger = logging.getLogger(__name__)

COURSE_VIDEOS = FIXTURES / "videos"
COURSE_LABELS = FIXTURES / LABELS_FILE
COURSE_STUDENTS = FIXTURES / "student_data.json"
COURSE_MISSING_NUMBER = 3
COURSE_REMAPPED = {"test_100.mp4": "test_2.mp4"}
CLIP_SECONDS = 0.5
CLIP_MAX_WIDTH = 640
CLIPS_RATE = 2.0
_NUMBER = re.compile(r"(\d+)")


@dataclass(frozen=True)
class WorkItem:
    """One upload: its request name, the file to send, the source video(s) and the accepted person(s)."""

    name: str
    path: Path
    source: str
    persons: tuple[str, ...]


def load_students(path: Path) -> dict[str, Student]:
    """The students table seed (JSON list of {name, major, year, ...}) by name."""
    data = _read_json(path)
    try:
        return {r["name"]: Student(str(r["name"]), str(r["major"]), str(r["year"])) for r in data}
    except (TypeError, KeyError) as exc:
        raise WorkloadError(f"{path} must be a list of {{name, major, year}} records ({exc!r})") from exc


def course_requests(videos: list[str], count: int) -> list[tuple[str, str]]:
    """(request name, video) pairs of the course workload: test_0 ... skipping test_3, cycling the videos."""
    numbers = (n for n in range(count + 1) if n != COURSE_MISSING_NUMBER)
    pairs = []
    for index, number in zip(range(count), numbers, strict=False):
        name = f"test_{number}.mp4"
        pairs.append((name, COURSE_REMAPPED.get(name, videos[index % len(videos)])))
    return pairs


def course_workload(count: int, videos_dir: Path = COURSE_VIDEOS, labels_path: Path = COURSE_LABELS) -> list[WorkItem]:
    """The course's workload of `count` uploads (100 = the course's test case 2)."""
    labels = load_labels(labels_path)
    videos = sorted(labels, key=_number)
    _require_files(videos_dir, videos)
    return [
        WorkItem(name, videos_dir / video, video, (labels[video],)) for name, video in course_requests(videos, count)
    ]


def folder_workload(folder: Path, count: int) -> list[WorkItem]:
    """A folder's labelled videos (labels.json beside them) in name order, repeated to `count` uploads."""
    labels = load_labels(folder / LABELS_FILE)
    videos = sorted(labels)
    if not videos:
        raise WorkloadError(f"{folder / LABELS_FILE} labels no video")
    _require_files(folder, videos)
    items = []
    for index in range(count):
        video = videos[index % len(videos)]
        items.append(WorkItem(f"{video}#{index // len(videos)}", folder / video, video, (labels[video],)))
    return items


def clips_workload(
    count: int, work_dir: Path, videos_dir: Path = COURSE_VIDEOS, labels_path: Path = COURSE_LABELS
) -> list[WorkItem]:
    """`count` clips of 0.5 s cut by FileCamera from the videos played in a loop, written to work_dir."""
    from device.camera import FileCamera  # the clips workload records as the Pi does; the rest needs no OpenCV

    labels = load_labels(labels_path)
    camera = FileCamera(videos_dir, realtime=False, max_width=CLIP_MAX_WIDTH)
    items = []
    try:
        for index in range(count):
            path = work_dir / f"clip_{index:04d}.mp4"
            info = camera.record_clip(path, CLIP_SECONDS)
            sources = tuple(dict.fromkeys(info.sources))
            unknown = [s for s in sources if s not in labels]
            if unknown:
                raise WorkloadError(f"no label for {unknown} in the labels file")
            persons = tuple(dict.fromkeys(labels[s] for s in sources))
            items.append(WorkItem(path.name, path, "+".join(sources), persons))
    finally:
        camera.close()
    logger.info("cut %d clips of %.1f s into %s", count, CLIP_SECONDS, work_dir)
    return items


def build_workload(kind: str, count: int, work_dir: Path) -> list[WorkItem]:
    """`course`, `clips`, or a folder path."""
    if kind == "course":
        return course_workload(count)
    if kind == "clips":
        return clips_workload(count, work_dir)
    folder = Path(kind)
    if not folder.is_dir():
        raise WorkloadError(f"workload {kind!r} is neither 'course', 'clips' nor a folder")
    return folder_workload(folder, count)


def _number(name: str) -> tuple[int, str]:
    """Sort key: the first number in a file name, then the name."""
    match = _NUMBER.search(name)
    return (int(match.group(1)) if match else -1, name)


def _require_files(folder: Path, names: list[str]) -> None:
    """WorkloadError naming every listed video that is not a file in the folder."""
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise WorkloadError(f"videos {missing} are missing from {folder}")


def _read_json(path: Path) -> object:
    """Parsed JSON, or a WorkloadError naming the file."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise WorkloadError(f"cannot read {path}: {exc}") from exc
