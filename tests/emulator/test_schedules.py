"""rate() and cron() as EventBridge reads them, and the scheduler on a clock the test moves."""

import threading
from datetime import UTC, datetime, timedelta

import pytest

from emulator.clock import ClockTicker, EmulatorClock
from emulator.schedules import ScheduleError, Scheduler, parse_schedule

MONDAY_NOON = datetime(2026, 3, 2, 12, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(("expression", "expected"), [
    ("rate(1 minute)", MONDAY_NOON + timedelta(minutes=1)),
    ("rate(5 minutes)", MONDAY_NOON + timedelta(minutes=5)),
    ("rate(2 hours)", MONDAY_NOON + timedelta(hours=2)),
    ("cron(0/15 * * * ? *)", datetime(2026, 3, 2, 12, 15, tzinfo=UTC)),
    ("cron(0 10 * * ? *)", datetime(2026, 3, 3, 10, 0, tzinfo=UTC)),
    ("cron(30 8 ? * SAT-SUN *)", datetime(2026, 3, 7, 8, 30, tzinfo=UTC)),
    ("cron(0 9 ? * 2 *)", datetime(2026, 3, 9, 9, 0, tzinfo=UTC)),  # 2 = Monday, as AWS counts
    ("cron(0 0 1 JAN ? 2027)", datetime(2027, 1, 1, 0, 0, tzinfo=UTC)),
])
def test_the_next_firing(expression, expected):
    assert parse_schedule(expression).next_after(MONDAY_NOON) == expected


@pytest.mark.parametrize("expression", [
    "rate(0 minutes)", "rate(1 week)", "cron(0 10 * * * *)", "cron(0 10 ? * ? *)", "cron(0 10 * *)",
    "cron(0 25 * * ? *)", "cron(0 10 L * ? *)", "cron(0 10 ? * 6#3 *)", "every minute",
])
def test_expressions_aws_refuses_or_the_emulator_does_not_emulate_are_refused(expression):
    with pytest.raises(ScheduleError):
        parse_schedule(expression)


def test_a_rate_rule_fires_once_per_period_of_the_advanced_clock():
    arn = "arn:aws:events:us-east-1:123456789012:rule/every-minute"
    fired = []
    clock = EmulatorClock()
    rules = [{"Name": "every-minute", "Arn": arn, "ScheduleExpression": "rate(1 minute)", "State": "ENABLED",
              "Targets": [{"Id": "t", "Arn": "arn:aws:sqs:us-east-1:123456789012:q"}]}]
    scheduler = Scheduler(lambda: rules, lambda rule, targets, event: fired.append(event), clock)
    assert scheduler.tick() == 0
    clock.advance(59)
    assert scheduler.tick() == 0
    clock.advance(2)
    assert scheduler.tick() == 1
    clock.advance(180)
    assert scheduler.tick() == 3
    assert {e["resources"][0] for e in fired} == {arn}
    assert [e["detail-type"] for e in fired] == ["Scheduled Event"] * 4


def test_a_rule_made_just_before_the_clock_moves_fires_at_the_first_tick_after():
    """The rule is made between two ticks and the clock is moved before the next one sees it."""
    rules: list[dict] = []
    fired = []
    clock = EmulatorClock()
    scheduler = Scheduler(lambda: rules, lambda rule, targets, event: fired.append(event), clock)
    assert scheduler.tick() == 0
    rules.append({"Name": "tick", "Arn": "arn:aws:events:us-east-1:123456789012:rule/tick", "State": "ENABLED",
                  "ScheduleExpression": "rate(1 minute)", "Targets": []})
    clock.advance(61)
    assert scheduler.tick() == 1
    clock.advance(30)
    assert scheduler.tick() == 0


def test_the_clock_never_goes_back():
    with pytest.raises(ValueError, match="only moves forward"):
        EmulatorClock().advance(-1)


class _ClockThatTellsAdvances(EmulatorClock):
    def __init__(self) -> None:
        super().__init__()
        self.advanced = threading.Event()

    def advance(self, seconds: float) -> datetime:
        now = super().advance(seconds)
        self.advanced.set()
        return now


def test_a_ticker_stopped_during_a_tick_ends_after_that_tick_not_a_period_later():
    clock, ticking = _ClockThatTellsAdvances(), threading.Event()

    def tick() -> None:
        ticking.set()
        clock.advanced.wait(30)  # the stop's wake-up comes while this tick still runs

    ticker = ClockTicker("hourly-ticker", tick, clock, seconds=3600)
    ticker.start()
    assert ticking.wait(30)
    ticker.stop()  # before the fix: the thread slept its hour, and stop() waited for it
    assert "hourly-ticker" not in {thread.name for thread in threading.enumerate()}
