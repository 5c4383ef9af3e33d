"""The grader: sends a workload to the pipeline, checks every answer, reads Lambda metrics, reports.

`python -m grader run --help`; rules and rubric in docs/grading.md. Workloads (grader.workload) are not
re-exported: the `clips` workload cuts clips with the device's OpenCV camera, which judging never needs.
"""

from grader.checker import ClipVerdict, Expected, Issue, Verdict, check, per_video
from grader.collector import Collector, Received
from grader.config import RunSettings, Stack, Thresholds, load_thresholds
from grader.errors import ConfigError, GraderError, WorkloadError
from grader.metrics import FunctionMetrics, ReportLine, collect_metrics, parse_report_line
from grader.rubric import RubricLine, score

__all__ = [
    "ClipVerdict",
    "Collector",
    "ConfigError",
    "Expected",
    "FunctionMetrics",
    "GraderError",
    "Issue",
    "Received",
    "ReportLine",
    "RubricLine",
    "RunSettings",
    "Stack",
    "Thresholds",
    "Verdict",
    "WorkloadError",
    "check",
    "collect_metrics",
    "load_thresholds",
    "parse_report_line",
    "per_video",
    "score",
]
