"""The course workload reproduces the course's own expected-output file (fixtures/mapping) exactly."""

from pathlib import Path

import pytest

from grader.checker import normalise_year
from grader.errors import WorkloadError
from grader.workload import clips_workload, course_workload, folder_workload
from tests.grader.conftest import REPO

MAPPING = REPO / "fixtures" / "mapping"


def _course_mapping() -> dict[str, tuple[str, str]]:
    """fixtures/mapping as {test_N.mp4: (major, year)}."""
    lines = MAPPING.read_text().split()
    return {name: tuple(value.split(",")) for name, value in (line.split(":") for line in lines)}


def test_the_100_upload_course_workload_matches_the_course_mapping(students: dict) -> None:
    items = course_workload(100)
    mapping = _course_mapping()

    assert [item.name for item in items] == sorted(mapping, key=lambda n: int(n[5:-4]))
    for item in items:
        record = students[item.persons[0]]
        major, year = mapping[item.name]
        assert (record.major, normalise_year(record.year)) == (major, normalise_year(year)), item
    assert items[99].name == "test_100.mp4" and items[99].source == "test_2.mp4"


def test_the_first_eight_uploads_are_the_eight_course_videos_in_the_graders_order() -> None:
    items = course_workload(8)

    assert [i.source for i in items] == [f"test_{n}.mp4" for n in (0, 1, 2, 4, 5, 6, 7, 8)]
    assert [i.persons[0] for i in items][:3] == ["president_trump", "president_biden", "mr_bean"]
    assert all(i.path.is_file() for i in items)


def test_a_folder_workload_repeats_its_labelled_videos_and_rejects_unlabelled_ones(tmp_path: Path) -> None:
    (tmp_path / "a.mp4").write_bytes(b"a")
    (tmp_path / "b.mp4").write_bytes(b"b")
    (tmp_path / "labels.json").write_text('{"b.mp4": "floki", "a.mp4": "mr_bean"}')

    items = folder_workload(tmp_path, 3)

    assert [(i.name, i.persons) for i in items] == [
        ("a.mp4#0", ("mr_bean",)),
        ("b.mp4#0", ("floki",)),
        ("a.mp4#1", ("mr_bean",)),
    ]
    (tmp_path / "labels.json").write_text('{"c.mp4": "floki"}')
    with pytest.raises(WorkloadError, match=r"\['c.mp4'\] are missing"):
        folder_workload(tmp_path, 1)


def test_clips_are_cut_by_the_file_camera_and_accept_every_person_they_show(tmp_path: Path) -> None:
    items = clips_workload(4, tmp_path)

    assert [i.name for i in items] == [f"clip_{n:04d}.mp4" for n in range(4)]
    assert all(i.path.stat().st_size > 0 for i in items)
    assert items[0].source.startswith("test_0.mp4") and items[0].persons[0] == "president_trump"
    for item in items:
        assert len(item.persons) == len(item.source.split("+"))
