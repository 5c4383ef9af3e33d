"""The class's outputs: grades.csv (one row per student, gradebook-import shape) and index.html (the distribution,
what failed where, a link per student)."""

import base64
import csv
import io
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from grader.classroom.settings import POINTS, PROPORTIONAL
from grader.classroom.submission import Summary

GRADES_CSV = "grades.csv"
INDEX_HTML = "index.html"
_TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True,
                         undefined=StrictUndefined)


def csv_header() -> list[str]:
    """student_id, one column per rubric line (its points), total, note."""
    return ["student_id", *(f"{line} ({points:g})" for line, points in POINTS.items()), "total", "note"]


def csv_row(summary: Summary) -> list[str]:
    """A student's row; a submission not graded has 0 on every line and says why in the note."""
    earned = [f"{summary.points.get(line, 0.0):g}" for line in POINTS]
    note = summary.note if summary.stage == "graded" else f"{summary.stage}: {summary.note}"
    return [summary.student, *earned, f"{summary.total:g}", note]


def write_gradebook(summaries: Sequence[Summary], out: Path, warnings: Sequence[str] = ()) -> dict[str, Path]:
    """grades.csv and index.html (with the run's warnings on top) in out; returns their paths."""
    paths = {"csv": out / GRADES_CSV, "html": out / INDEX_HTML}
    with paths["csv"].open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(csv_header())
        writer.writerows(csv_row(s) for s in sorted(summaries, key=lambda s: s.student))
    paths["html"].write_text(render_index(summaries, warnings))
    return paths


def render_index(summaries: Sequence[Summary], warnings: Sequence[str] = ()) -> str:
    """The class page: the run's warnings, histogram of totals (PNG inlined), counts per stage (and regrades alone),
    a row per student."""
    stages = Counter(where_it_stopped(s) for s in summaries)
    rows = [{"student": s.student, "total": f"{s.total:g}", "stage": s.stage, "note": s.note, "iam": s.iam,
             "report": s.report, "seconds": f"{s.seconds:.0f}"} for s in sorted(summaries, key=lambda s: s.student)]
    return _TEMPLATES.get_template("index.html.j2").render(
        histogram=base64.b64encode(histogram([s.total for s in summaries])).decode(),
        stages=sorted(stages.items()), rows=rows, count=len(summaries),
        with_iam=sum(bool(s.iam) for s in summaries), lines=list(POINTS.items()), warnings=list(warnings),
        regraded=sum(bool(s.first_run) for s in summaries))


def where_it_stopped(summary: Summary) -> str:
    """The page's "what failed where" bucket of one submission."""
    if summary.stage != "graded":
        return summary.stage
    if summary.passed:
        return "graded: every line passed"
    full = all(summary.points.get(line, 0) >= POINTS[line] for line in PROPORTIONAL)
    return "graded: other rubric lines failed" if full else "graded: wrong or missing answers"


def histogram(totals: Sequence[float]) -> bytes:
    """The distribution of total points (0-100) as PNG bytes."""
    figure, axes = plt.subplots(figsize=(7, 3))
    axes.hist(totals, bins=range(0, 105, 5), color="#1565c0", edgecolor="white")
    axes.set_xlim(0, 100)
    axes.set_xlabel("total points")
    axes.set_ylabel("submissions")
    axes.yaxis.get_major_locator().set_params(integer=True)
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()
