"""Points from a report, grades.csv's shape, and the class page."""

import csv
from pathlib import Path

import pytest

from grader.__main__ import main
from grader.classroom.gradebook import csv_header, write_gradebook
from grader.classroom.scoring import points
from grader.classroom.settings import POINTS
from grader.classroom.submission import Summary, grading_note


def document(answered: int, correct: int, failed: tuple[str, ...] = ()) -> dict:
    names = ["completeness (answered)", "correctness", "latency (every request)", "frame extractor average Duration",
             "face classifier average Duration", "max ConcurrentExecutions", "message contract"]
    return {"total": 10, "answered": answered, "correct": correct, "wrong": answered - correct,
            "missing": 10 - answered, "late": 0, "run": {"timed_out": False},
            "rubric": [{"name": n, "passed": not any(n.startswith(f) for f in failed)} for n in names]}


def test_points_add_up_to_100_and_fraction_lines_earn_in_proportion() -> None:
    assert sum(POINTS.values()) == 100
    assert sum(points(document(10, 10)).values()) == 100
    earned = points(document(10, 7, failed=("correctness", "latency")))
    assert earned["correctness"] == 28 and earned["latency"] == 0 and earned["completeness"] == 20


def test_the_note_names_the_failed_lines_and_the_counts() -> None:
    note = grading_note(document(8, 6, failed=("completeness", "correctness")))
    assert note == "failed: completeness (answered), correctness (2 wrong, 2 missing)"
    assert grading_note(document(10, 10)) == "all rubric lines passed"


def test_grades_csv_has_a_row_per_student_and_the_page_a_link_per_graded_one(tmp_path: Path) -> None:
    good = Summary("ann", "/s/ann", "100000000001", "graded", "all rubric lines passed",
                   points(document(10, 10)), True, 50.0, [], "ann/report.html")
    broken = Summary("bob", "/s/bob", "100000000002", "deploy", "deploy exited with 1: boom",
                     iam=["IAM: s3:PutObject denied to arn:aws:iam::100000000002:role/x"])
    paths = write_gradebook([broken, good], tmp_path)
    with paths["csv"].open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == csv_header() and rows[0][0] == "student_id" and rows[0][-2:] == ["total", "note"]
    assert rows[1][0] == "ann" and rows[1][-2] == "100" and rows[2][-1] == "deploy: deploy exited with 1: boom"
    page = paths["html"].read_text()
    assert 'href="ann/report.html"' in page and "data:image/png;base64," in page
    assert "IAM: s3:PutObject denied" in page and "<td>deploy</td>" in page
    assert "<td>graded: every line passed</td>" in page


@pytest.mark.parametrize(("line", "code"), [("completeness", 0), ("correctness", 1), ("latency", 1)])
def test_grader_line_passes_a_classroom_step_only_for_a_line_at_full_points(tmp_path: Path, line: str,
                                                                            code: int) -> None:
    earned = points(document(10, 7, failed=("correctness", "latency")))
    Summary("ann", "/s/ann", "100000000001", "graded", "", earned).write(tmp_path / "ann")
    assert main(["line", str(tmp_path), line]) == code


def test_grader_line_needs_exactly_one_submission(tmp_path: Path) -> None:
    assert main(["line", str(tmp_path), "correctness"]) == 2
