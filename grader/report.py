"""The run's report: a JSON document, a self-contained HTML page (PNG plots inlined) and a terminal summary."""

import base64
import json
import logging
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from grader import plots
from grader.checker import COUNT_FIELDS, ClipVerdict, Verdict, per_video
from grader.collector import Received
from grader.config import REPORTS_DIR, Stack, Thresholds
from grader.metrics import FunctionMetrics
from grader.rubric import RubricLine
from grader.sender import Upload

logger = logging.getLogger(__name__)

SCHEMA = 1
LATEST = "latest"
ISSUES_SHOWN = 10
ISSUES_LISTED_HTML = 200
TEMPLATE = "report.html.j2"
_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True, undefined=StrictUndefined
)


@dataclass(frozen=True)
class RunInfo:
    """How the run went: settings, target, and its times (epoch s)."""

    workload: str
    count: int
    rate: float
    device_id: str
    target: str
    stack: Stack
    started_at: float
    finished_at: float
    timed_out: bool
    metrics_settled: bool
    lambdas: str | None = None


@dataclass(frozen=True)
class Outcome:
    """Everything the report shows."""

    info: RunInfo
    verdict: Verdict
    thresholds: Thresholds
    rubric: Sequence[RubricLine]
    metrics: Mapping[str, FunctionMetrics]
    uploads: Sequence[Upload] = ()
    received: Sequence[Received] = ()
    extra_files: Sequence[Path] = field(default_factory=tuple)
    missing_permissions: Sequence[str] = ()  # the emulator's `IAM:` warnings: refused on AWS
    @property
    def passed(self) -> bool:
        """Every rubric line passed."""
        return all(line.passed for line in self.rubric)


def default_out_dir(now: datetime | None = None) -> Path:
    """reports/<UTC timestamp>/."""
    return REPORTS_DIR / (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


def to_json(outcome: Outcome) -> dict[str, Any]:
    """The machine-readable report; total, answered, correct and the issue counts are integers."""
    verdict, latency = outcome.verdict, outcome.verdict.latency
    values = [c.latency_ms for c in verdict.clips if c.latency_ms is not None]
    return {
        "schema": SCHEMA,
        "passed": outcome.passed,
        **verdict.counts(),
        "latency_ms": {
            "count": latency.count,
            "p50": _round(latency.p50),
            "p95": _round(latency.p95),
            "p99": _round(latency.p99),
            "max": _round(max(values, default=None)),
            "mean": _round(sum(values) / len(values) if values else None),
            "limit": outcome.thresholds.latency_limit_ms,
        },
        "rubric": [asdict(line) for line in outcome.rubric],
        "thresholds": outcome.thresholds.model_dump(),
        "metrics": {role: _metrics_json(m) for role, m in outcome.metrics.items()},
        "per_video": [asdict(row) for row in per_video(verdict)],
        "issues": [asdict(issue) for issue in verdict.issues],
        "notes": list(verdict.notes),
        "missing_permissions": list(outcome.missing_permissions),
        "run": _run_json(outcome.info),
        "clips": [_clip_json(clip) for clip in verdict.clips],
    }


def write_reports(outcome: Outcome, out_dir: Path, latest_dir: Path = REPORTS_DIR / LATEST) -> dict[str, Path]:
    """Write report.json and report.html to out_dir and to latest_dir; return the out_dir paths."""
    document = to_json(outcome)
    page = render_html(outcome, document)
    paths = {}
    for folder in dict.fromkeys([Path(out_dir), Path(latest_dir)]):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "report.json").write_text(json.dumps(document, indent=2))
        (folder / "report.html").write_text(page)
        for extra in outcome.extra_files:
            shutil.copy2(extra, folder / extra.name)
        paths = paths or {"json": folder / "report.json", "html": folder / "report.html"}
    logger.info("reports written to %s and %s", out_dir, latest_dir)
    return paths


def render_html(outcome: Outcome, document: Mapping[str, Any]) -> str:
    """A self-contained HTML page rendered from the JSON document, with the run's plots inlined as PNG."""
    template = _TEMPLATES.get_template(TEMPLATE)
    return template.render(page_model(document), figures=_figures(outcome), css=_CSS, issues_listed=ISSUES_LISTED_HTML)


def page_model(document: Mapping[str, Any]) -> dict[str, Any]:
    """What the page shows, shaped into rows from report.json's document alone."""
    run, latency = document["run"], document["latency_ms"]
    facts = [
        ("target", run["target"]),
        ("workload", f"{run['workload']}: {run['count']} uploads at {run['rate']:g}/s as device {run['device_id']}"),
        ("submission", run["submission"] or "the stack's own functions"),
        ("run", f"{run['started_at']} to {run['finished_at']} ({run['duration_s']:.0f} s)"
                + (", stopped at the timeout" if run["timed_out"] else "")),
        ("counts", ", ".join(f"{name} {document[name]}" for name in COUNT_FIELDS)),
        ("latency (ms)", ", ".join(f"{q} {_fmt(latency[q])}" for q in ("p50", "p95", "p99", "max"))),
    ]
    if not run["metrics_settled"]:
        facts.append(("metrics", "incomplete: CloudWatch had not caught up when the wait ended"))
    issues: dict[str, list[Mapping[str, str]]] = {}
    for issue in document["issues"]:
        issues.setdefault(issue["kind"], []).append(issue)
    return {
        "title": f"facepipe grading report: {'PASS' if document['passed'] else 'FAIL'}",
        "facts": facts,
        "rubric": [[r["name"], r["measured"], r["threshold"], "pass" if r["passed"] else "FAIL"]
                   for r in document["rubric"]],
        "per_video": [[v["source"], " / ".join(v["persons"]), v["sent"], v["answered"], v["correct"], v["wrong"],
                       v["missing"], v["late"]] for v in document["per_video"]],
        "issues": list(issues.items()),
        "notes": document["notes"],
        "missing_permissions": document.get("missing_permissions", []),
        "metrics": [_metrics_row(m) for m in document["metrics"].values()],
        "clips": [[c["name"], c["clip_key"], " / ".join(c["expected"]), c["answer"] or "-", c["outcome"],
                   _fmt(c["latency_ms"]), c["results"], c["detail"]] for c in document["clips"]],
    }


def print_summary(console: Console, outcome: Outcome, paths: Mapping[str, Path]) -> None:
    """Rubric table, counts, the first issues of each kind, and where the reports are."""
    table = Table(title="rubric")
    for column in ("line", "measured", "threshold", "result"):
        table.add_column(column)
    for line in outcome.rubric:
        table.add_row(line.name, line.measured, line.threshold, "[green]pass[/]" if line.passed else "[red]FAIL[/]")
    console.print(table)
    counts = outcome.verdict.counts()
    console.print(", ".join(f"{name} {value}" for name, value in counts.items()))
    latency = outcome.verdict.latency
    console.print(f"latency ms: p50 {_fmt(latency.p50)}, p95 {_fmt(latency.p95)}, p99 {_fmt(latency.p99)}")
    for kind in dict.fromkeys(issue.kind for issue in outcome.verdict.issues):
        issues = [issue for issue in outcome.verdict.issues if issue.kind == kind]
        console.print(f"[yellow]{kind}[/] ({len(issues)}):")
        for issue in issues[:ISSUES_SHOWN]:
            console.print(f"  {escape(issue.key)}: {escape(issue.detail)}")
    for note in outcome.verdict.notes:
        console.print(f"[dim]note: {escape(note)}[/]")
    if outcome.missing_permissions:
        console.print(f"[yellow]permissions your functions are missing on AWS[/] ({len(outcome.missing_permissions)}):")
        for line in outcome.missing_permissions[:ISSUES_SHOWN]:
            console.print(f"  {escape(line)}")
    verdict_text = "[green]PASS[/]" if outcome.passed else "[red]FAIL[/]"
    console.print(f"{verdict_text}  report: {paths['html']} (json: {paths['json']})")


def _figures(outcome: Outcome) -> list[tuple[str, str]]:
    """The three figures as (title, base64 PNG)."""
    verdict = outcome.verdict
    latencies = [c.latency_ms for c in verdict.clips if c.latency_ms is not None]
    figures = [
        ("Latency per request", plots.latency_histogram(latencies, outcome.thresholds.latency_limit_ms)),
        (
            "Timeline: uploads, results, concurrency (from REPORT lines)",
            plots.timeline(
                outcome.info.started_at,
                [u.started_at for u in outcome.uploads],
                [r.received_at for r in outcome.received],
                {m.function: m.reports for m in outcome.metrics.values()},
            ),
        ),
        ("Correctness per video", plots.correctness_bars(per_video(verdict))),
    ]
    return [(title, base64.b64encode(png).decode()) for title, png in figures]


def _metrics_row(metrics: Mapping[str, Any]) -> list[object]:
    """One function's row of the metrics table, from its report.json entry."""
    return [
        metrics["function"],
        _fmt(metrics["invocations"]),
        _fmt(metrics["errors"]),
        _fmt(metrics["throttles"]),
        _fmt(metrics["duration_avg_ms"]),
        _fmt(metrics["duration_max_ms"]),
        _fmt(metrics["concurrent_executions_max"]),
        metrics["cold_starts"],
        _avg_max(metrics["init_duration_avg_ms"], metrics["init_duration_max_ms"]),
        _avg_max(metrics["restore_duration_avg_ms"], metrics["restore_duration_max_ms"]),
    ]


def _avg_max(average: float | None, maximum: float | None) -> str:
    return "-" if average is None else f"{_fmt(average)} / {_fmt(maximum)}"


def _metrics_json(metrics: FunctionMetrics) -> dict[str, Any]:
    """One function's figures for report.json (REPORT lines summarised, not listed)."""
    inits, restores = metrics.init_durations, metrics.restore_durations
    return {
        "function": metrics.function,
        "invocations": metrics.invocations,
        "errors": metrics.errors,
        "throttles": metrics.throttles,
        "duration_avg_ms": _round(metrics.duration_avg_ms),
        "duration_max_ms": _round(metrics.duration_max_ms),
        "concurrent_executions_max": metrics.concurrency_max,
        "report_lines": len(metrics.reports),
        "cold_starts": metrics.cold_starts,
        "init_duration_avg_ms": _round(sum(inits) / len(inits) if inits else None),
        "init_duration_max_ms": _round(max(inits, default=None)),
        "restore_duration_avg_ms": _round(sum(restores) / len(restores) if restores else None),
        "restore_duration_max_ms": _round(max(restores, default=None)),
    }


def _run_json(info: RunInfo) -> dict[str, Any]:
    """Run facts; no credentials are ever part of them."""
    return {
        "workload": info.workload,
        "count": info.count,
        "rate": info.rate,
        "device_id": info.device_id,
        "target": info.target,
        "submission": info.lambdas,
        "stack": asdict(info.stack),
        "started_at": _iso(info.started_at),
        "finished_at": _iso(info.finished_at),
        "duration_s": round(info.finished_at - info.started_at, 1),
        "timed_out": info.timed_out,
        "metrics_settled": info.metrics_settled,
    }


def _clip_json(clip: ClipVerdict) -> dict[str, Any]:
    """One upload's verdict."""
    return {
        "name": clip.expected.name,
        "clip_key": clip.expected.clip_key,
        "source": clip.expected.source,
        "expected": list(clip.expected.persons),
        "outcome": clip.outcome,
        "answer": clip.answer,
        "student": asdict(clip.student) if clip.student else None,
        "latency_ms": _round(clip.latency_ms),
        "late": clip.late,
        "results": clip.results,
        "detail": clip.detail,
    }


def _round(value: float | None) -> float | None:
    """One decimal, None kept."""
    return None if value is None else round(value, 1)


def _fmt(value: float | None) -> str:
    """A number for people: integers as such, others with no decimals, None as '-'."""
    if value is None:
        return "-"
    return str(value) if isinstance(value, int) else f"{value:.0f}"


def _iso(epoch: float) -> str:
    """Epoch seconds as ISO-8601 UTC, seconds precision."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:.25em .6em;"
    "text-align:left;font-size:.92em}th{background:#f3f3f3}.facts th{width:9em}.bad{color:#c62828;font-weight:600}"
    ".good{color:#2e7d32}img{max-width:100%;border:1px solid #eee}code{font-size:.9em}"
)
