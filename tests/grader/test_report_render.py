"""report.json carries the required integer fields and percentiles; report.html is self-contained with its plots."""

import base64
import json
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from grader.checker import check
from grader.config import Stack, Thresholds
from grader.metrics import FunctionMetrics, parse_report_line
from grader.report import Outcome, RunInfo, to_json, write_reports
from grader.rubric import score
from grader.sender import Upload
from grader.workload import WorkItem
from tests.grader.conftest import T0, clip_key, expected, received

SECRET = "not-a-real-secret-but-must-never-appear"


@pytest.fixture
def outcome(students: dict, make_result: Callable, monkeypatch: pytest.MonkeyPatch) -> Outcome:
    """A run of 4 uploads: 2 correct, 1 wrong, 1 missing, plus one malformed message."""
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    uploads = [expected(0, "floki"), expected(1, "floki"), expected(2, "mr_bean"), expected(3, "mr_bean")]
    messages = [
        received(make_result(0, "floki"), T0 + 0.8, "a"),
        received(make_result(1, "floki"), T0 + 2.1, "b"),
        received(make_result(2, "floki"), T0 + 2.9, "c"),
        received("<html>oops</html>", T0 + 3, "d"),
    ]
    verdict = check(uploads, messages, students, 3000)
    reports = tuple(parse_report_line(f"REPORT RequestId: {i}\tDuration: 400.00 ms", T0 + i + 0.7) for i in range(3))
    fx = FunctionMetrics("facepipe-frame-extractor", 4, 0, 0, 80.0, 120.0, 1, reports)
    fc = FunctionMetrics("facepipe-face-classifier", 3, 0, 0, 400.0, 400.0, 3, reports)
    stack = Stack("bucket", "https://queue", fx.function, fc.function)
    info = RunInfo(
        "course", 4, 1.0, "grader", "embedded emulator http://127.0.0.1:4566", stack, T0, T0 + 9, False, True
    )
    sent = [
        Upload(i, WorkItem(f"test_{i}.mp4", Path("v.mp4"), "v.mp4", ("floki",)), clip_key(i), T0 + i, T0 + i + 0.01)
        for i in range(4)
    ]
    return Outcome(
        info,
        verdict,
        Thresholds(),
        score(verdict, fx, fc, Thresholds()),
        {"frame_extractor": fx, "face_classifier": fc},
        sent,
        messages,
    )


def test_the_json_report_has_integer_counts_percentiles_and_the_failed_rubric(outcome: Outcome) -> None:
    document = to_json(outcome)

    assert {k: document[k] for k in ("total", "answered", "correct", "wrong", "missing", "malformed")} == {
        "total": 4,
        "answered": 3,
        "correct": 2,
        "wrong": 1,
        "missing": 1,
        "malformed": 1,
    }
    assert all(type(document[k]) is int for k in ("total", "answered", "correct"))
    assert set(document["latency_ms"]) >= {"p50", "p95", "p99"} and document["latency_ms"]["p50"] == 900.0
    assert document["passed"] is False
    assert [line["name"] for line in document["rubric"] if not line["passed"]] == [
        "completeness (answered)",
        "correctness",
        "message contract",
    ]
    assert document["metrics"]["face_classifier"]["concurrent_executions_max"] == 3
    assert document["clips"][2]["answer"] == "floki" and document["clips"][2]["outcome"] == "wrong"
    assert any("freshman" in note for note in document["notes"])


def test_reports_go_to_the_run_folder_and_to_latest_with_inline_png_plots(outcome: Outcome, tmp_path: Path) -> None:
    paths = write_reports(outcome, tmp_path / "run", tmp_path / "latest")

    assert paths == {"json": tmp_path / "run" / "report.json", "html": tmp_path / "run" / "report.html"}
    for folder in ("run", "latest"):
        assert json.loads((tmp_path / folder / "report.json").read_text())["total"] == 4
    page = (tmp_path / "latest" / "report.html").read_text()
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    assert len(images) == 3
    assert all(base64.b64decode(image).startswith(b"\x89PNG\r\n\x1a\n") for image in images)
    assert "FAIL" in page and "answered &#39;floki&#39;, expected mr_bean" in page
    assert "&lt;html&gt;oops" in page and "<html>oops" not in page
    assert "src='http" not in page and "<script" not in page


def test_no_credential_ever_reaches_a_report(outcome: Outcome, tmp_path: Path) -> None:
    write_reports(outcome, tmp_path / "run", tmp_path / "latest")

    for path in (tmp_path / "run").iterdir():
        assert SECRET not in path.read_text()


def test_the_permissions_functions_lack_are_listed_in_both_reports(outcome: Outcome, tmp_path: Path) -> None:
    line = ("IAM: User: arn:aws:sts::123456789012:assumed-role/r/fx is not authorized to perform: s3:PutObject on "
            "resource: arn:aws:s3:::frames/x because no identity-based policy allows the s3:PutObject action")
    write_reports(replace(outcome, missing_permissions=(line,)), tmp_path / "run", tmp_path / "latest")
    assert json.loads((tmp_path / "run" / "report.json").read_text())["missing_permissions"] == [line]
    page = (tmp_path / "run" / "report.html").read_text()
    assert "Permissions your functions are missing on AWS" in page and "s3:PutObject on resource" in page
    write_reports(outcome, tmp_path / "none", tmp_path / "latest")
    assert "none seen" in (tmp_path / "none" / "report.html").read_text()
