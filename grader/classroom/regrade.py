"""Regrades alone: a submission whose timing lines failed while the machine was busy (Summary.failed_on_a_busy_machine)
is graded again at the end of the class run with no other submission running, in a fresh account; the gradebook
keeps the quiet run and says so. Its first run's files move to DIR/<student>/first-run/."""

import shutil
from pathlib import Path

from grader.classroom.contention import Contention
from grader.classroom.submission import Summary

FIRST_RUN = "first-run"


def oversubscribed(parallel: int, cores: int, regrade: bool) -> str | None:
    """The warning when more submissions run at once than the machine has cores (None when they fit)."""
    if parallel <= cores:
        return None
    then = "timing lines of some will be regraded alone" if regrade else \
        "timing lines of some may fail on the machine's account (--no-regrade: not regraded)"
    return f"{parallel} submissions at once on {cores} cores: {then}"


def set_aside_first_run(student_dir: Path) -> Path:
    """Move the first run's files (report, logs, summary) into student_dir/first-run/; returns that folder."""
    kept = student_dir / FIRST_RUN
    shutil.rmtree(kept, ignore_errors=True)
    kept.mkdir(parents=True)
    for path in student_dir.iterdir():
        if path != kept:
            shutil.move(path, kept / path.name)
    return kept


def regraded(first: Summary, again: Summary) -> Summary:
    """The gradebook's summary: the quiet regrade, its note saying why; the first run when the regrade did not get
    as far as grading (its deploy failed this time, it timed out), saying that."""
    busy = "; ".join(first.busy)
    first_report = f"{first.student}/{FIRST_RUN}/report.html"
    if again.stage != "graded":
        first.note = (f"{first.note}; machine busy ({busy}) but the regrade alone stopped in {again.stage} "
                      f"({again.note}): first run kept")
        first.report = first_report
        return first
    quiet = Contention.from_json(again.contention).describe()
    again.note = f"regraded alone: machine busy during first run ({busy}; regrade: {quiet}); {again.note}"
    again.first_run = {"total": first.total, "note": first.note, "contention": first.contention,
                       "opening": first.opening, "overlapped_by": first.overlapped_by, "report": first_report}
    return again
