"""The report's figures as PNG bytes: latency histogram, timeline, per-video correctness."""

import io
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from grader.checker import VideoRow
from grader.metrics import ReportLine

DPI = 100
OUTCOME_COLOURS = {"correct": "#2e7d32", "wrong": "#c62828", "missing": "#9e9e9e"}


def latency_histogram(latencies_ms: Sequence[float], limit_ms: float) -> bytes:
    """Histogram of per-request latency (s) with the limit marked."""
    figure, axes = plt.subplots(figsize=(7, 3.2))
    if latencies_ms:
        axes.hist([v / 1000 for v in latencies_ms], bins=min(40, max(5, len(latencies_ms) // 2)), color="#1565c0")
    else:
        axes.text(0.5, 0.5, "no answered request", ha="center", va="center", transform=axes.transAxes)
    axes.axvline(limit_ms / 1000, color="#c62828", linestyle="--", label=f"limit {limit_ms / 1000:g} s")
    axes.set_xlabel("latency: first result received − upload start (s)")
    axes.set_ylabel("requests")
    axes.legend(loc="upper right")
    return _png(figure)


def timeline(
    start: float,
    uploads: Sequence[float],
    results: Sequence[float],
    reports: Mapping[str, Sequence[ReportLine]],
) -> bytes:
    """Uploads and results over time (cumulative), and each function's concurrency from its REPORT lines."""
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5), sharex=True, height_ratios=(3, 2))
    for label, times, colour in (("uploads", uploads, "#1565c0"), ("results received", results, "#2e7d32")):
        ordered = sorted(t - start for t in times)
        top.step(ordered, range(1, len(ordered) + 1), where="post", label=label, color=colour)
    top.set_ylabel("cumulative count")
    top.legend(loc="upper left")
    for function, lines in reports.items():
        xs, ys = concurrency_steps(lines)
        bottom.step([x - start for x in xs], ys, where="post", label=function)
    bottom.set_ylabel("concurrent executions")
    bottom.set_xlabel("seconds since the run started")
    if reports:
        bottom.legend(loc="upper left", fontsize="small")
    bottom.yaxis.get_major_locator().set_params(integer=True)
    return _png(figure)


def correctness_bars(rows: Sequence[VideoRow]) -> bytes:
    """Stacked bars per source video: correct, wrong, missing."""
    figure, axes = plt.subplots(figsize=(9, 3.4))
    labels = [row.source for row in rows]
    bottom = [0] * len(rows)
    for outcome in ("correct", "wrong", "missing"):
        values = [getattr(row, outcome) for row in rows]
        axes.bar(labels, values, bottom=bottom, label=outcome, color=OUTCOME_COLOURS[outcome])
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    axes.set_ylabel("uploads")
    axes.legend(loc="upper right", fontsize="small")
    axes.tick_params(axis="x", labelrotation=30, labelsize="small")
    return _png(figure)


def concurrency_steps(lines: Sequence[ReportLine]) -> tuple[list[float], list[int]]:
    """(times, in-flight count from that time on), from invocation start/end times; starts with 0."""
    events = sorted([(r.started_at, 1) for r in lines] + [(r.logged_at, -1) for r in lines])
    times, counts, current = [], [], 0
    for moment, change in events:
        current += change
        times.append(moment)
        counts.append(current)
    if times:
        times.insert(0, times[0])
        counts.insert(0, 0)
    return times, counts


def _png(figure: Figure) -> bytes:
    """The figure as PNG bytes; the figure is closed."""
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=DPI)
    plt.close(figure)
    return buffer.getvalue()
