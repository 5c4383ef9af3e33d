"""The rubric, scored like the course's graders: completeness, correctness, latency, Duration, concurrency."""

from collections.abc import Mapping
from dataclasses import dataclass

from contract import percentile
from grader.checker import Verdict
from grader.config import Thresholds
from grader.metrics import FunctionMetrics

NO_DATA = "no data"


@dataclass(frozen=True)
class RubricLine:
    """One rubric line: what was measured against which threshold, and whether it passed."""

    name: str
    measured: str
    threshold: str
    passed: bool


def score(
    verdict: Verdict,
    extractor: FunctionMetrics | None,
    classifier: FunctionMetrics | None,
    thresholds: Thresholds,
) -> list[RubricLine]:
    """Every rubric line for a run."""
    return [
        _fraction("completeness (answered)", verdict.answered, verdict.total, thresholds.min_answered_fraction),
        _fraction("correctness", verdict.correct, verdict.total, thresholds.min_correct_fraction),
        _latency(verdict, thresholds.latency_limit_ms, thresholds.latency_percentile),
        _duration("frame extractor average Duration", extractor, thresholds.max_extractor_avg_duration_ms),
        _duration("face classifier average Duration", classifier, thresholds.max_classifier_avg_duration_ms),
        _concurrency({m.function: m for m in (extractor, classifier) if m is not None}, thresholds.min_max_concurrency),
        _contract(verdict, thresholds.max_contract_violations),
    ]


def _fraction(name: str, count: int, total: int, minimum: float) -> RubricLine:
    """count/total at least minimum."""
    passed = total > 0 and count >= minimum * total
    return RubricLine(name, f"{count}/{total}", f">= {minimum:.0%}", passed)


def _latency(verdict: Verdict, limit_ms: float, percentile_q: float) -> RubricLine:
    """The q-th percentile of per-request latency within the limit (q = 100: every answered request)."""
    latencies = [c.latency_ms for c in verdict.clips if c.latency_ms is not None]
    label = "every request" if percentile_q >= 100 else f"p{percentile_q:g}"
    name, threshold = f"latency ({label})", f"<= {limit_ms:.0f} ms"
    if not latencies:
        return RubricLine(name, NO_DATA, threshold, False)
    value = percentile(latencies, percentile_q)
    return RubricLine(name, f"{value:.0f} ms ({verdict.count('late')} late)", threshold, value <= limit_ms)


def _duration(name: str, metrics: FunctionMetrics | None, limit_ms: float) -> RubricLine:
    """The function's average Duration (CloudWatch) at most the limit."""
    average = metrics.duration_avg_ms if metrics else None
    if average is None:
        return RubricLine(name, NO_DATA, f"<= {limit_ms:.0f} ms", False)
    return RubricLine(name, f"{average:.0f} ms", f"<= {limit_ms:.0f} ms", average <= limit_ms)


def _concurrency(metrics: Mapping[str, FunctionMetrics], minimum: int) -> RubricLine:
    """The highest per-function maximum of ConcurrentExecutions at least the minimum."""
    values = {fn: m.concurrency_max for fn, m in metrics.items() if m.concurrency_max is not None}
    name = "max ConcurrentExecutions"
    if not values:
        return RubricLine(name, NO_DATA, f">= {minimum}", False)
    best = max(values, key=lambda fn: values[fn])
    return RubricLine(name, f"{values[best]} ({best})", f">= {minimum}", values[best] >= minimum)


def _contract(verdict: Verdict, maximum: int) -> RubricLine:
    """Malformed, duplicate and wrong-group messages at most the maximum."""
    kinds = ("malformed", "duplicate", "wrong_group")
    total = sum(verdict.count(kind) for kind in kinds)
    measured = ", ".join(f"{verdict.count(kind)} {kind.replace('_', ' ')}" for kind in kinds)
    return RubricLine("message contract", measured, f"<= {maximum} violations", total <= maximum)
