"""Log lines: AWS Lambda's platform lines (REPORT, INIT_REPORT), as the grader, the bench and the console read them,
the classifier's `classified frame` line, which the classifier writes and the console reads, and the emulator's
`IAM:` line (a call the function's role may not make on AWS), which the grader's report and the console list."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from contract.errors import MalformedResultError
from contract.result import Result

CLASSIFIED_FRAME = "classified frame"  # the message of the classifier's per-frame log line (a JSON line)
IAM_WARNING_PREFIX = "IAM: "  # then AWS's AccessDenied message, as EMULATOR_IAM=warn writes it


@dataclass(frozen=True)
class ReportLine:
    """One REPORT line: request id, Duration, Init or Restore Duration (ms, None when warm), log time (epoch s)."""

    request_id: str
    duration_ms: float
    init_duration_ms: float | None
    max_memory_mb: float | None
    logged_at: float
    restore_duration_ms: float | None = None

    @property
    def startup_ms(self) -> float:
        """Init or Restore Duration (ms); 0 on a warm invocation."""
        return (self.init_duration_ms or 0.0) + (self.restore_duration_ms or 0.0)

    @property
    def started_at(self) -> float:
        """When the invocation began, init or restore included (epoch s)."""
        return self.logged_at - (self.duration_ms + self.startup_ms) / 1000

    @property
    def new_environment(self) -> bool:
        """The first invocation of a new execution environment: a cold start (Init) or a restore (SnapStart)."""
        return self.init_duration_ms is not None or self.restore_duration_ms is not None


def parse_report_line(message: str, logged_at: float) -> ReportLine | None:
    """Parse AWS's tab-separated REPORT line; None for any other line."""
    parts = [part.strip() for part in message.strip().split("\t") if part.strip()]
    if not parts or not parts[0].startswith("REPORT RequestId:"):
        return None
    fields = dict(part.split(": ", 1) for part in parts[1:] if ": " in part)
    if "Duration" not in fields:
        return None
    return ReportLine(
        parts[0].split(": ", 1)[1],
        _number(fields["Duration"]),
        _number(fields["Init Duration"]) if "Init Duration" in fields else None,
        _number(fields["Max Memory Used"]) if "Max Memory Used" in fields else None,
        logged_at,
        _number(fields["Restore Duration"]) if "Restore Duration" in fields else None,
    )


def parse_init_report(message: str) -> float | None:
    """The Init Duration (ms) of AWS's INIT_REPORT line; None for any other line."""
    if not message.startswith("INIT_REPORT"):
        return None
    fields = dict(part.split(": ", 1) for part in message.removeprefix("INIT_REPORT").strip().split("\t")
                  if ": " in part)
    return _number(fields["Init Duration"]) if "Init Duration" in fields else None


def _number(text: str) -> float:
    """'12.34 ms' → 12.34."""
    return float(text.split()[0])


def classified_frame_fields(results: Sequence[Result]) -> dict[str, Any]:
    """The fields the classifier's `classified frame` line carries beside its message: the frame's results whole."""
    return {"statuses": [r.status for r in results], "names": [r.name for r in results],
            "results": [r.to_dict() for r in results]}


def classified_results(message: str) -> list[Result]:
    """The results of a `classified frame` JSON log line; [] for any other line; MalformedResultError if unreadable."""
    if CLASSIFIED_FRAME not in message:  # most lines: skip them without parsing
        return []
    try:
        line = json.loads(message)
    except json.JSONDecodeError as exc:
        raise MalformedResultError(f"a {CLASSIFIED_FRAME!r} line that is not JSON: {exc}") from exc
    if not isinstance(line, dict) or line.get("message") != CLASSIFIED_FRAME:
        return []
    results = line.get("results")
    if not isinstance(results, list):
        raise MalformedResultError(f"a {CLASSIFIED_FRAME!r} line without a results list")
    return [Result.from_dict(result) for result in results]


def iam_denials(messages: Iterable[str]) -> Counter[str]:
    """The distinct `IAM:` lines among log messages and how often each was written, first written first."""
    lines = (message.strip() for message in messages)
    return Counter(line for line in lines if line.startswith(IAM_WARNING_PREFIX))
