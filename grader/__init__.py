"""The grader: sends a workload to the pipeline, checks every answer, reads Lambda metrics, reports.

`python -m grader run --help`; rules and rubric in docs/grading.md.
"""

from grader.checker import ClipVerdict, Expected, Issue, Verdict, check, per_video
from grader.collector import Collector, Received
from grader.config import RunSettings, Stack, Thresholds, load_thresholds
from grader.errors import ConfigError, GraderError, WorkloadError
from grader.metrics import FunctionMetrics, ReportLine, collect_metrics, parse_report_line
from grader.rubric import RubricLine, score
from grader.workload import WorkItem, build_workload, course_workload

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
    "WorkItem",
    "WorkloadError",
    "build_workload",
    "check",
    "collect_metrics",
    "course_workload",
    "load_thresholds",
    "parse_report_line",
    "per_video",
    "score",
]
