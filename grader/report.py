"""The run's report: a JSON document, a self-contained HTML page (PNG plots inlined) and a terminal summary."""

import base64
import html
import json
import logging
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from grader import plots
from grader.checker import ClipVerdict, Verdict, per_video
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
        "thresholds": asdict(outcome.thresholds),
        "metrics": {role: _metrics_json(m) for role, m in outcome.metrics.items()},
        "per_video": [asdict(row) for row in per_video(verdict)],
        "issues": [asdict(issue) for issue in verdict.issues],
        "notes": list(verdict.notes),
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
    """A self-contained HTML page: summary, rubric, plots (inline PNG), per-video table, issues, metrics."""
    verdict = outcome.verdict
    sections = [
        _summary_html(outcome, document),
        _table_html("Rubric", ["line", "measured", "threshold", "result"], _rubric_rows(outcome.rubric)),
        _figures_html(outcome),
        _table_html(
            "Per video",
            ["video", "person", "sent", "answered", "correct", "wrong", "missing", "late"],
            [
                [r.source, " / ".join(r.persons), r.sent, r.answered, r.correct, r.wrong, r.missing, r.late]
                for r in per_video(verdict)
            ],
        ),
        _issues_html(verdict),
        "<h2>Notes</h2><ul>" + "".join(f"<li>{_e(note)}</li>" for note in verdict.notes) + "</ul>",
        _metrics_html(outcome.metrics),
        _clips_html(verdict.clips),
    ]
    title = f"facepipe grading report: {'PASS' if outcome.passed else 'FAIL'}"
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{_e(title)}</title>"
        f"<style>{_CSS}</style></head><body><h1>{_e(title)}</h1>{''.join(sections)}</body></html>"
    )


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
    verdict_text = "[green]PASS[/]" if outcome.passed else "[red]FAIL[/]"
    console.print(f"{verdict_text}  report: {paths['html']} (json: {paths['json']})")


def _summary_html(outcome: Outcome, document: Mapping[str, Any]) -> str:
    """The headline counts and run facts."""
    info, latency = outcome.info, document["latency_ms"]
    facts = [
        ("target", info.target),
        ("workload", f"{info.workload}: {info.count} uploads at {info.rate:g}/s as device {info.device_id}"),
        ("submission", info.lambdas or "the stack's own functions"),
        (
            "run",
            f"{_iso(info.started_at)} to {_iso(info.finished_at)} ({info.finished_at - info.started_at:.0f} s)"
            + (", stopped at the timeout" if info.timed_out else ""),
        ),
        ("counts", ", ".join(f"{k} {document[k]}" for k in outcome.verdict.counts())),
        (
            "latency (ms)",
            f"p50 {_fmt(latency['p50'])}, p95 {_fmt(latency['p95'])}, p99 {_fmt(latency['p99'])}, "
            f"max {_fmt(latency['max'])}",
        ),
    ]
    if not info.metrics_settled:
        facts.append(("metrics", "incomplete: CloudWatch had not caught up when the wait ended"))
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in facts)
    return f"<table class='facts'>{rows}</table>"


def _rubric_rows(rubric: Sequence[RubricLine]) -> list[list[object]]:
    """Rubric lines as table rows."""
    return [[line.name, line.measured, line.threshold, "pass" if line.passed else "FAIL"] for line in rubric]


def _figures_html(outcome: Outcome) -> str:
    """The three figures, inlined as base64 PNG."""
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
    return "".join(
        f"<h2>{_e(title)}</h2><img alt='{_e(title)}' src='data:image/png;base64,{base64.b64encode(png).decode()}'>"
        for title, png in figures
    )


def _issues_html(verdict: Verdict) -> str:
    """Issues grouped by kind."""
    if not verdict.issues:
        return "<h2>Issues</h2><p>none</p>"
    parts = ["<h2>Issues</h2>"]
    for kind in dict.fromkeys(issue.kind for issue in verdict.issues):
        issues = [issue for issue in verdict.issues if issue.kind == kind]
        items = "".join(f"<li><code>{_e(i.key)}</code>: {_e(i.detail)}</li>" for i in issues[:ISSUES_LISTED_HTML])
        more = (
            f"<li>... and {len(issues) - ISSUES_LISTED_HTML} more (report.json)</li>"
            if len(issues) > ISSUES_LISTED_HTML
            else ""
        )
        parts.append(f"<h3 class='bad'>{_e(kind)} ({len(issues)})</h3><ul>{items}{more}</ul>")
    return "".join(parts)


def _metrics_html(metrics: Mapping[str, FunctionMetrics]) -> str:
    """One row per function: CloudWatch statistics and REPORT line figures."""
    header = [
        "function",
        "Invocations",
        "Errors",
        "Throttles",
        "Duration avg (ms)",
        "Duration max (ms)",
        "ConcurrentExecutions max",
        "cold starts",
        "Init Duration avg/max (ms)",
        "Restore Duration avg/max (ms)",
    ]
    rows = []
    for m in metrics.values():
        init, restore = _avg_max(m.init_durations), _avg_max(m.restore_durations)
        rows.append(
            [
                m.function,
                _fmt(m.invocations),
                _fmt(m.errors),
                _fmt(m.throttles),
                _fmt(m.duration_avg_ms),
                _fmt(m.duration_max_ms),
                _fmt(m.concurrency_max),
                m.cold_starts,
                init,
                restore,
            ]
        )
    return _table_html("Lambda metrics (CloudWatch AWS/Lambda; cold starts from REPORT lines, INIT once per "
                       "snapshot from INIT_REPORT)", header, rows)


def _avg_max(values: Sequence[float]) -> str:
    return f"{sum(values) / len(values):.0f} / {max(values):.0f}" if values else "-"


def _clips_html(clips: Sequence[ClipVerdict]) -> str:
    """Every upload's verdict, folded."""
    rows = [
        [
            c.expected.name,
            c.expected.clip_key,
            " / ".join(c.expected.persons),
            c.answer or "-",
            c.outcome,
            _fmt(c.latency_ms),
            c.results,
            c.detail,
        ]
        for c in clips
    ]
    table = _table_html(
        "", ["request", "clip key", "expected", "answer", "outcome", "latency ms", "results", "detail"], rows
    )
    return f"<h2>Every request</h2><details><summary>{len(clips)} requests</summary>{table}</details>"


def _table_html(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """An HTML table with an optional h2 title; FAIL/pass and outcomes coloured."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td{_cell_class(v)}>{_e(v)}</td>" for v in row) + "</tr>" for row in rows)
    heading = f"<h2>{_e(title)}</h2>" if title else ""
    return f"{heading}<table><tr>{head}</tr>{body}</table>"


def _cell_class(value: object) -> str:
    """A CSS class for pass/fail-like cells."""
    if value in ("FAIL", "wrong", "missing"):
        return " class='bad'"
    if value in ("pass", "correct"):
        return " class='good'"
    return ""


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


def _e(value: object) -> str:
    """HTML-escaped text."""
    return html.escape(str(value), quote=True)


_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:.25em .6em;"
    "text-align:left;font-size:.92em}th{background:#f3f3f3}.facts th{width:9em}.bad{color:#c62828;font-weight:600}"
    ".good{color:#2e7d32}img{max-width:100%;border:1px solid #eee}code{font-size:.9em}"
)
