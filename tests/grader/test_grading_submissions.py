"""`python -m grader run --emulator --lambdas DIR` scores broken submissions correctly and says what went wrong."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SUBMISSIONS = Path(__file__).resolve().parent / "submissions"
TIMEOUTS = {"same_person": "30", "raises": "4", "silent": "4"}


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("submission", ["same_person", "raises", "silent"])
def test_a_broken_submission_fails_the_rubric_and_the_report_says_why(submission: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in ("STACK_NAME", "DEVICE_ID")}
    command = [
        sys.executable,
        "-m",
        "grader",
        "run",
        "--emulator",
        "--lambdas",
        str(SUBMISSIONS / submission),
        "--count",
        "8",
        "--rate",
        "4",
        "--timeout",
        TIMEOUTS[submission],
        "--out",
        str(tmp_path / "out"),
    ]

    run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)

    assert run.returncode == 1, run.stdout + run.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert (tmp_path / "reports" / "latest" / "report.json").read_text() == json.dumps(report, indent=2)
    assert report["total"] == 8 and report["run"]["submission"].endswith(submission)
    assert "data:image/png;base64," in (tmp_path / "out" / "report.html").read_text()
    CHECKS[submission](report, run.stdout)


def _same_person(report: dict, stdout: str) -> None:
    assert (report["answered"], report["correct"], report["wrong"], report["missing"]) == (8, 1, 7, 0), stdout
    assert "answered 'president_trump', expected president_biden" in stdout
    assert not report["run"]["timed_out"], stdout


def _raises(report: dict, stdout: str) -> None:
    classifier = report["metrics"]["face_classifier"]
    assert (report["answered"], report["missing"]) == (0, 8), stdout
    assert classifier["errors"] >= 8 and classifier["errors"] == classifier["invocations"]
    assert report["metrics"]["frame_extractor"]["errors"] == 0
    assert "no result received" in stdout


def _silent(report: dict, stdout: str) -> None:
    assert (report["answered"], report["missing"]) == (0, 8) and report["run"]["timed_out"]
    assert report["metrics"]["face_classifier"]["errors"] == 0
    assert report["metrics"]["face_classifier"]["invocations"] == 8


CHECKS = {"same_person": _same_person, "raises": _raises, "silent": _silent}
