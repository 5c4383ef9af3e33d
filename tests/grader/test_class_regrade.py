"""Regrades alone, end to end: a class of two samples graded one at a time. While the correct one runs, the test keeps
the CPUs busy itself (spinning processes, stopped by pid once its first summary is written): it is regraded alone and
its note says why. The slow one (12 s per frame in its handler) runs after the spinners are gone: regraded or not as
the rule says of its own first run (the rest of the machine may be busy), and failing its timing lines either way.

The latency limit (1 ms) fails every run, busy or not: what is tested is which failure is regraded and what the
gradebook says, not how fast the machine is."""

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from grader.classroom.regrade import FIRST_RUN
from grader.classroom.submission import SUMMARY, Summary

SAMPLES = Path(__file__).resolve().parent / "class_samples"
ROOT = SAMPLES.parents[2]
THRESHOLDS = "latency_limit_ms: 1\nmin_max_concurrency: 1\n"
SPINNERS = 3  # on 2 cores: some task always waits for a CPU (PSI `some` near 100%)
# At SCHED_IDLE (sched(7)): PSI counts a waiting spinner as any waiting task, but the spinners only take CPU nothing
# else wants, so the grader and the rest of the suite run beside them at their usual speed.
SPIN = "import os; os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))\nwhile True: pass"


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The class graded, the spinners running from the start until the correct sample's first summary exists."""
    work = tmp_path_factory.mktemp("regrade")
    submissions = work / "submissions"
    for name in ("_course2024", "correct", "slow"):
        shutil.copytree(SAMPLES / name, submissions / name)
    (work / "thresholds.yaml").write_text(THRESHOLDS)
    out = work / "out"
    command = [sys.executable, "-m", "grader", "class", str(submissions), "--out", str(out), "--parallel", "1",
               "--count", "2", "--rate", "2", "--answer-timeout", "40", "--timeout", "300", "--deploy-timeout", "90",
               "--thresholds", str(work / "thresholds.yaml"), "--quiet-wait", "10", "--no-stagger"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    with spinning() as spinners:
        run = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=env)
        first = out / "correct01" / SUMMARY
        while run.poll() is None and not first.is_file():
            time.sleep(0.5)
        stop(spinners)
        output, _ = run.communicate(timeout=900)
    assert run.returncode == 0, output
    return out


@contextmanager
def spinning() -> Iterator[list[subprocess.Popen]]:
    """SPINNERS processes spinning a CPU each, stopped (by pid) at the latest when the block ends."""
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(SPINNERS)]
    try:
        yield spinners
    finally:
        stop(spinners)


def stop(spinners: list[subprocess.Popen]) -> None:
    for spinner in spinners:
        if spinner.poll() is None:
            spinner.kill()
        spinner.wait()


def summary(out: Path, *parts: str) -> Summary:
    return Summary.read(out.joinpath(*parts, SUMMARY))


@pytest.mark.slow
@pytest.mark.integration
def test_a_submission_failed_on_a_machine_made_busy_is_regraded_alone_and_its_note_says_so(graded: Path) -> None:
    final, first = summary(graded, "correct01"), summary(graded, "correct01", FIRST_RUN)
    assert first.stage == "graded" and first.timing_failed and first.failed_on_a_busy_machine, first
    assert any(reason.startswith("cpu pressure") for reason in first.busy), first.busy
    assert final.first_run["total"] == first.total and final.account != first.account
    assert final.note.startswith("regraded alone: machine busy during first run (cpu pressure"), final.note
    assert "latency" in final.note  # the impossible limit fails it alone too
    row = next(line for line in (graded / "grades.csv").read_text().splitlines() if line.startswith("correct01,"))
    assert "regraded alone: machine busy during first run" in row


@pytest.mark.slow
@pytest.mark.integration
def test_a_genuinely_slow_submission_is_regraded_as_the_rule_says_and_keeps_failing_its_timing_lines(
        graded: Path) -> None:
    regraded = (graded / "slow03" / FIRST_RUN).is_dir()
    first = summary(graded, "slow03", FIRST_RUN) if regraded else summary(graded, "slow03")
    final = summary(graded, "slow03")
    assert first.stage == "graded" and first.failed_on_a_busy_machine is regraded, (first.busy, regraded)
    assert final.stage == "graded" and "face classifier average Duration" in final.timing_failed, final
    assert final.points["face classifier average Duration"] == 0 and final.points["latency"] == 0
    assert final.note.startswith("regraded alone: ") is regraded, final.note
    report = json.loads((graded / "slow03" / "report.json").read_text())
    assert report["opening_cpu_pressure"] is None or report["opening_cpu_pressure"]["window_seconds"] > 0
