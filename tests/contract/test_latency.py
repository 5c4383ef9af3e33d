"""Latency percentiles: linear interpolation between closest ranks, as numpy's default and the course's graders."""

import pytest

from contract import LatencyStats, percentile


def test_percentiles_of_one_to_a_hundred() -> None:
    values = [float(v) for v in range(100, 0, -1)]
    assert LatencyStats.of(values) == LatencyStats(100, 50.5, pytest.approx(95.05), pytest.approx(99.01))


def test_no_value_and_one_value() -> None:
    assert LatencyStats.of([]) == LatencyStats(0, None, None, None)
    assert LatencyStats.of([7.0]) == LatencyStats(1, 7.0, 7.0, 7.0)
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


def test_the_ends_and_a_tenth_of_a_percent() -> None:
    values = [10.0, 20.0, 30.0]
    assert (percentile(values, 0), percentile(values, 100)) == (10.0, 30.0)
    assert percentile(values, 99.5) == pytest.approx(29.9)


@pytest.mark.parametrize("q", [-1, 100.5])
def test_a_percentile_outside_0_to_100_is_refused(q: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile([1.0, 2.0], q)
