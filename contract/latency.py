"""How latencies are summarised, the same on the Pi and in the grader: percentiles by linear interpolation."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

PERCENTILE_STEPS = 1000  # percentiles are resolved to 0.1


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100, to 0.1) with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be between 0 and 100, got {q}")
    if len(values) == 1 or q == 0:
        return min(values)
    if q == 100:
        return max(values)
    cuts = statistics.quantiles(values, n=PERCENTILE_STEPS, method="inclusive")
    return cuts[round(q * PERCENTILE_STEPS / 100) - 1]


@dataclass(frozen=True)
class LatencyStats:
    """Percentiles (ms, linear interpolation) of a set of latencies; None when there are none."""

    count: int
    p50: float | None
    p95: float | None
    p99: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> LatencyStats:
        """Stats of the given latencies."""
        if not values:
            return cls(0, None, None, None)
        return cls(len(values), percentile(values, 50), percentile(values, 95), percentile(values, 99))
