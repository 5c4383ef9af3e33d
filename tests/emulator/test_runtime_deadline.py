"""The deadline an environment's runtime is handed: what a handler reads from it never exceeds what is truly left,
so a handler never sees its whole Timeout (https://docs.aws.amazon.com/lambda/latest/dg/python-context.html)."""

from __future__ import annotations

import pytest
from awslambdaric import lambda_context
from hypothesis import given
from hypothesis import strategies as st

from emulator.lambda_runtime.workers import runtime_deadline_ms

_EPOCHS = st.floats(min_value=1.6e9, max_value=2.2e9, allow_nan=False)
_TIMEOUTS = st.integers(min_value=1, max_value=900)
_WAITS = st.floats(min_value=0.0, max_value=0.01)


def _read_by_the_runtime(deadline_ms: int, now: float, monkeypatch: pytest.MonkeyPatch) -> int:
    """What awslambdaric's context answers when its clock reads `now` (epoch seconds, given: not this machine's)."""
    monkeypatch.setattr(lambda_context.time, "time", lambda: now)
    context = lambda_context.LambdaContext("id", None, None, deadline_ms, "arn", None)
    return context.get_remaining_time_in_millis()


@given(accepted_at=_EPOCHS, timeout=_TIMEOUTS, wait=_WAITS)
def test_a_handler_never_reads_more_time_than_is_left(accepted_at: float, timeout: int, wait: float) -> None:
    reads_at = accepted_at + wait  # an instant Hypothesis picks: the runtime's clock is patched to it, none is timed
    with pytest.MonkeyPatch.context() as monkeypatch:
        left_ms = _read_by_the_runtime(runtime_deadline_ms(accepted_at + timeout), reads_at, monkeypatch)
    truly_left_ms = (accepted_at + timeout - reads_at) * 1000
    assert left_ms <= truly_left_ms
    assert left_ms < timeout * 1000


def test_a_handler_starting_in_the_arrival_millisecond_sees_less_than_its_timeout(
        monkeypatch: pytest.MonkeyPatch) -> None:
    accepted_at = 1_765_000_000.0001
    assert _read_by_the_runtime(runtime_deadline_ms(accepted_at + 3), accepted_at + 0.0003, monkeypatch) == 2999
