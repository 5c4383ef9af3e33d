"""Grading the student, not the machine: the contention rule (from PSI text, no real load), which failed lines send a
submission to a regrade alone, the gradebook's note and page after one, and the oversubscription warning."""

import csv
from pathlib import Path

import pytest

from grader.__main__ import _parser
from grader.classroom import contention
from grader.classroom.contention import (
    CONTENDED_LOAD_PER_CORE,
    CONTENDED_PRESSURE,
    OPENING_CONTENDED_PRESSURE,
    Mark,
    Timeline,
    judge,
    judge_opening,
    some_total_us,
)
from grader.classroom.gradebook import write_gradebook
from grader.classroom.regrade import FIRST_RUN, oversubscribed, regraded, set_aside_first_run
from grader.classroom.submission import Summary, timing_failed
from grader.errors import GraderError
from grader.rubric import NO_DATA

PSI = "some avg10=12.50 avg60=8.00 avg300=3.10 total={some}\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
LINES = ("completeness (answered)", "correctness", "latency (every request)", "frame extractor average Duration",
         "face classifier average Duration", "max ConcurrentExecutions", "message contract")


def psi_mark(seconds: float, some_us: int) -> Mark:
    return Mark(seconds, some_total_us(PSI.format(some=some_us)))


def busy(share: float = 0.63) -> dict:
    """A contention figure as the worker stores it: PSI's share of a 100 s window."""
    return judge(psi_mark(0, 0), psi_mark(100, int(share * 100e6)), 6.0, 2).to_json()


def report(failed: dict[str, str]) -> dict:
    """A report.json document whose lines in `failed` (name start -> measured) failed."""
    rubric = []
    for name in LINES:
        measured = next((m for start, m in failed.items() if name.startswith(start)), None)
        rubric.append({"name": name, "measured": measured or "ok", "threshold": "-", "passed": measured is None})
    return {"rubric": rubric}


def test_the_some_total_is_read_from_the_psi_text_and_a_text_without_it_is_refused() -> None:
    assert some_total_us(PSI.format(some=9648772100)) == 9648772100
    with pytest.raises(GraderError, match=r"no .some \.\.\. total=N. line"):
        some_total_us("full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")


@pytest.mark.parametrize(("stalled_s", "contended"), [(10, False), (30, False), (31, True), (80, True)])
def test_the_window_is_contended_when_tasks_waited_for_a_cpu_over_the_threshold_share(stalled_s: float,
                                                                                      contended: bool) -> None:
    figure = judge(psi_mark(1000, 5_000_000), psi_mark(1100, 5_000_000 + int(stalled_s * 1e6)), 0.5, 2)
    assert figure.source == "psi" and figure.window_seconds == 100
    assert figure.cpu_pressure == pytest.approx(stalled_s / 100)
    assert figure.contended is contended and CONTENDED_PRESSURE == 0.30
    assert figure.describe() == f"cpu pressure {stalled_s / 100:.0%}"


@pytest.mark.parametrize(("load", "contended"), [(1.5, False), (2.0, False), (2.2, True), (7.0, True)])
def test_without_psi_the_load_average_per_core_decides(load: float, contended: bool) -> None:
    figure = judge(Mark(0, None), Mark(60, None), load, 2)
    assert figure.source == "loadavg" and figure.cpu_pressure is None
    assert figure.load_per_core == load / 2 and figure.contended is contended
    assert figure.to_json()["threshold"] == CONTENDED_LOAD_PER_CORE and "no PSI" in figure.describe()


def test_a_window_of_no_length_is_refused() -> None:
    with pytest.raises(GraderError, match="positive length"):
        judge(psi_mark(5, 0), psi_mark(5, 0), 1.0, 2)


def test_a_mark_reads_the_psi_file_and_falls_back_when_there_is_none(tmp_path: Path) -> None:
    psi = tmp_path / "cpu"
    psi.write_text(PSI.format(some=123456))
    assert contention.mark(psi).some_total_us == 123456
    assert contention.mark(tmp_path / "absent").some_total_us is None
    psi.write_text(PSI.format(some=123456 + 500_000))
    assert contention.since(contention.mark(psi), psi).source == "psi"


@pytest.mark.parametrize(("failed", "timing"), [
    ({"latency": "12000 ms (7 late)"}, ["latency (every request)"]),
    ({"max ConcurrentExecutions": "2 (fn)", "face classifier": "900 ms"},
     ["face classifier average Duration", "max ConcurrentExecutions"]),
    ({"correctness": "7/10"}, []),  # wrong answers: no quiet machine changes them
    ({"latency": NO_DATA, "face classifier": NO_DATA, "completeness": "0/10"}, []),  # a crash: nothing measured
    ({"message contract": "3 malformed, 0 duplicate, 0 wrong group"}, []),
])
def test_only_timing_lines_failed_on_measured_figures_count_for_a_regrade(failed: dict, timing: list) -> None:
    assert timing_failed(report(failed)) == timing


@pytest.mark.parametrize(("stage", "share", "failed", "regrade"), [
    ("graded", 0.63, ["latency (every request)"], True),
    ("graded", 0.10, ["latency (every request)"], False),  # a quiet machine: the submission is slow
    ("graded", 0.63, [], False),  # busy, but nothing timing-dependent failed
    ("deploy", 0.63, ["latency (every request)"], False),
    ("timeout", 0.63, ["latency (every request)"], False),
])
def test_a_regrade_alone_needs_a_timing_line_failed_on_a_busy_machine(stage: str, share: float, failed: list,
                                                                      regrade: bool) -> None:
    summary = Summary("ann", "/s/ann", "100000000001", stage, contention=busy(share), timing_failed=failed)
    assert summary.failed_on_a_busy_machine is regrade


def test_the_gradebook_keeps_the_quiet_regrade_and_says_why(tmp_path: Path) -> None:
    first = Summary("ann", "/s/ann", "100000000001", "graded", "failed: latency (every request)",
                    {"latency": 0.0, "correctness": 40.0}, False, 120.0, contention=busy(0.63),
                    timing_failed=["latency (every request)"])
    again = Summary("ann", "/s/ann", "100000000003", "graded", "all rubric lines passed", {"latency": 15.0,
                    "correctness": 40.0}, True, 100.0, report="ann/report.html", contention=busy(0.05))
    final = regraded(first, again)
    assert final.total == 55 and final.account == "100000000003"
    assert final.note == ("regraded alone: machine busy during first run (cpu pressure 63% over its workload; regrade: "
                          "cpu pressure 5%); all rubric lines passed")
    assert final.first_run["total"] == 40 and final.first_run["report"] == f"ann/{FIRST_RUN}/report.html"
    warning = oversubscribed(4, 2, regrade=True)
    paths = write_gradebook([final], tmp_path, [warning])
    with paths["csv"].open() as handle:
        row = next(csv.DictReader(handle))
    assert row["total"] == "55" and row["note"].startswith("regraded alone: machine busy during first run (cpu")
    page = paths["html"].read_text()
    assert "warning: 4 submissions at once on 2 cores: timing lines of some will be regraded alone" in page
    assert "regraded alone (timing lines failed while the machine was busy; the quiet run counts)</td><td>1<" in page


def test_a_regrade_that_did_not_reach_grading_keeps_the_first_run() -> None:
    first = Summary("ann", "/s/ann", "100000000001", "graded", "failed: latency (every request)", {"latency": 0.0},
                    report="ann/report.html", contention=busy(0.63), timing_failed=["latency (every request)"])
    again = Summary("ann", "/s/ann", "100000000003", "deploy", "deploy exited with 1: BucketAlreadyExists")
    final = regraded(first, again)
    assert final is first and final.report == f"ann/{FIRST_RUN}/report.html" and not final.first_run
    assert "regrade alone stopped in deploy (deploy exited with 1: BucketAlreadyExists): first run kept" in final.note


def test_the_first_runs_files_are_set_aside(tmp_path: Path) -> None:
    for name in ("report.json", "summary.json", "deploy.log"):
        (tmp_path / name).write_text(name)
    kept = set_aside_first_run(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [FIRST_RUN]
    assert (kept / "report.json").read_text() == "report.json" and len(list(kept.iterdir())) == 3


def test_more_at_once_than_cores_is_a_warning_not_a_refusal() -> None:
    assert oversubscribed(2, 2, regrade=True) is None
    assert oversubscribed(8, 2, regrade=False) == ("8 submissions at once on 2 cores: timing lines of some may fail on "
                                                   "the machine's account (--no-regrade: not regraded)")
    assert _parser().parse_args(["class", "s", "--out", "o", "--parallel", "8"]).regrade is True
    assert _parser().parse_args(["class", "s", "--out", "o", "--no-regrade"]).regrade is False


def test_a_regrade_waits_for_a_quiet_machine_but_not_forever(tmp_path: Path) -> None:
    psi, naps = tmp_path / "cpu", []

    def nap(seconds: float) -> None:  # the machine calms down after the third look
        naps.append(seconds)
        share = 85.0 if len(naps) < 3 else 12.0
        psi.write_text(PSI.replace("avg10=12.50", f"avg10={share:.2f}").format(some=1))

    nap(0)
    naps.clear()
    assert contention.wait_until_quiet(60, psi, nap) is True and len(naps) == 3
    psi.write_text(PSI.replace("avg10=12.50", "avg10=95.00").format(some=1))
    naps.clear()
    assert contention.wait_until_quiet(10, psi, naps.append) is False
    assert sum(naps) == 10
    assert contention.wait_until_quiet(10, tmp_path / "absent", naps.append) is False
    assert contention.some_avg10(PSI.format(some=1)) == 0.125


def sampled(shares: list[float]) -> list[Mark]:
    """PSI as sampled once a second: shares[i] is the share of second i in which some task waited for a CPU."""
    marks, total = [psi_mark(0, 0)], 0
    for second, share in enumerate(shares, start=1):
        total += int(share * 1e6)
        marks.append(psi_mark(second, total))
    return marks


def first_run(shares: list[float], opening_seconds: int, overlapped_by: list[str] = ()) -> Summary:
    """A graded summary whose latency line failed, its window's and opening's pressure from the sampled series."""
    marks = sampled(shares)
    window = judge(marks[0], marks[-1], 1.0, 2).to_json()
    opening = judge_opening(marks[0], marks[opening_seconds])
    return Summary("ann", "/s/ann", "100000000001", "graded", contention=window, opening=opening.to_json(),
                   overlapped_by=list(overlapped_by), timing_failed=["latency (every request)"])


QUIET_STEADY = [0.15] * 56  # a lone submission's paced uploads (docs/grading.md: 0.15-0.20 alone)


def test_a_collision_in_the_opening_sends_the_submission_to_a_regrade_though_the_window_average_is_low() -> None:
    """4 s of the opening at 100% (another job's burst) then a quiet minute: 21% over the window, under 0.30."""
    summary = first_run([1.0] * 4 + QUIET_STEADY, opening_seconds=4)
    assert summary.contention["cpu_pressure"] == pytest.approx(0.21, abs=0.01) and not summary.contention["contended"]
    assert summary.opening["cpu_pressure"] == 1.0 and summary.opening["threshold"] == OPENING_CONTENDED_PRESSURE
    assert summary.failed_on_a_busy_machine
    assert summary.busy == ["cpu pressure 100% in its opening"]


def test_a_lone_openings_own_burst_is_not_contention() -> None:
    """Alone, a submission's own burst measured 0.37 in its opening: a failed timing line there is its own."""
    summary = first_run([0.37] * 3 + QUIET_STEADY, opening_seconds=3)
    assert not summary.opening["contended"] and not summary.contention["contended"]
    assert not summary.failed_on_a_busy_machine and summary.busy == []


def test_another_submissions_deploy_or_opening_during_its_opening_sends_it_to_a_regrade() -> None:
    summary = first_run([0.37] * 3 + QUIET_STEADY, opening_seconds=3, overlapped_by=["bob's deploy"])
    assert summary.failed_on_a_busy_machine and summary.busy == ["bob's deploy during its opening"]
    passed = Summary("ann", "/s/ann", "100000000001", "graded", overlapped_by=["bob's deploy"])
    assert not passed.failed_on_a_busy_machine  # nothing timing-dependent failed: never regraded


def test_without_psi_the_opening_is_not_judged_and_only_overlaps_count() -> None:
    assert judge_opening(Mark(0, None), Mark(3, None)) is None
    assert judge_opening(psi_mark(3, 0), psi_mark(3, 0)) is None  # an opening of no length
    quiet = judge(Mark(0, None), Mark(60, None), 0.5, 2).to_json()
    summary = Summary("ann", "/s/ann", "100000000001", "graded", contention=quiet, overlapped_by=["bob's opening"],
                      timing_failed=["latency (every request)"])
    assert summary.busy == ["bob's opening during its opening"]


def test_the_timeline_names_the_deploys_and_openings_that_overlapped_an_opening() -> None:
    now = [0.0]
    timeline = Timeline(lambda: now[0])

    def at(seconds: float, name: str, stage: str | None) -> None:
        now[0] = seconds
        timeline.stage(name, stage) if stage else timeline.end(name)

    at(0, "ann", "deploy")
    at(5, "ann", "resources")
    at(6, "bob", "deploy")
    at(8, "ann", "started")  # ann's opening: 8-11, during bob's deploy (6-9)
    at(9, "bob", "resources")
    at(10, "bob", "started")  # bob's opening: 10-14, overlapping ann's (8-11)
    at(11, "ann", "opened")
    at(12, "cid", "deploy")  # still deploying when bob's worker ends: overlaps bob's opening, not ann's
    at(14, "bob", None)
    at(20, "dan", "started")  # after everyone's opening
    assert timeline.overlapping("ann") == ["bob's deploy", "bob's opening"]
    assert timeline.overlapping("bob") == ["ann's opening", "cid's deploy"]
    assert timeline.overlapping("cid") == []  # no opening of its own


def test_the_regrades_note_gives_every_reason_the_first_run_counted_as_busy() -> None:
    first = first_run([1.0] * 4 + QUIET_STEADY, opening_seconds=4, overlapped_by=["bob's opening"])
    again = Summary("ann", "/s/ann", "100000000003", "graded", "all rubric lines passed", {"latency": 15.0},
                    contention=busy(0.05))
    final = regraded(first, again)
    assert final.note.startswith("regraded alone: machine busy during first run (cpu pressure 100% in its opening; "
                                 "bob's opening during its opening; regrade: cpu pressure 5%)"), final.note
    assert final.first_run["overlapped_by"] == ["bob's opening"] and final.first_run["opening"]["contended"]
