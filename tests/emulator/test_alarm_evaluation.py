"""CloudWatch alarm evaluation on a moto backend in this process: M out of N, each TreatMissingData, statistics, and
datapoints placed on the emulator's clock (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-evaluation.html)."""

from datetime import UTC, datetime, timedelta

import pytest
from moto.cloudwatch.models import CloudWatchBackend

from emulator.aws.cloudwatch import AlarmEvaluator
from emulator.aws.registry import PatchRegistry
from emulator.clock import EmulatorClock

DIMENSIONS = [{"Name": "FunctionName", "Value": "door"}]


@pytest.fixture
def clock() -> EmulatorClock:
    """A clock 30 s into a minute, so no minute ends while a test puts its datapoints and evaluates."""
    clock = EmulatorClock()
    now = clock.now()
    clock.advance((90 - now.second - now.microsecond / 1e6) % 60)
    return clock


@pytest.fixture
def evaluator(clock: EmulatorClock):
    evaluator = AlarmEvaluator(clock, lambda topic, subject, message: None)
    registry = PatchRegistry()
    registry.install(evaluator.patches())
    yield evaluator
    registry.uninstall()


@pytest.fixture
def backend() -> CloudWatchBackend:
    return CloudWatchBackend("us-east-1", "123456789012")


def _put(backend: CloudWatchBackend, clock: EmulatorClock, minutes_ago: int, value: float) -> None:
    """A datapoint in the middle of the period that ended `minutes_ago` - 1 minutes before the current one began."""
    start = clock.now().replace(second=0, microsecond=0) - timedelta(minutes=minutes_ago)
    real = start + timedelta(seconds=10) - timedelta(seconds=clock.offset_seconds())
    backend.put_metric_data("AWS/Lambda", [{"MetricName": "Errors", "Value": value, "Dimensions": DIMENSIONS,
                                            "Timestamp": real.astimezone(UTC)}])


def _alarm(backend: CloudWatchBackend, periods: int, to_alarm: int | None = None, missing: str | None = None,
           statistic: str = "Sum", operator: str = "GreaterThanOrEqualToThreshold", threshold: float = 1.0):
    return backend.put_metric_alarm(
        name="door-errors", namespace="AWS/Lambda", metric_name="Errors", comparison_operator=operator,
        evaluation_periods=periods, period=60, threshold=threshold, statistic=statistic, description="",
        dimensions=DIMENSIONS, alarm_actions=[], datapoints_to_alarm=to_alarm, treat_missing_data=missing)


def test_a_new_alarm_is_insufficient_data(evaluator, backend):
    alarm = _alarm(backend, periods=1)
    assert (alarm.state_value, alarm.state_reason) == ("INSUFFICIENT_DATA", "Unchecked: Initial alarm creation")


def test_m_out_of_n_breaching_periods_alarm(evaluator, backend, clock):
    alarm = _alarm(backend, periods=3, to_alarm=2)
    for minutes_ago, value in ((1, 5.0), (2, 0.0), (3, 4.0)):
        _put(backend, clock, minutes_ago, value)
    assert evaluator.evaluate(backend, alarm)
    assert alarm.state_value == "ALARM"
    assert alarm.state_reason.startswith("Threshold Crossed: 2 out of the last 3 datapoints [5.0 (")
    assert alarm.state_reason.endswith("(minimum 2 datapoints for OK -> ALARM transition).")


def test_fewer_than_m_breaching_periods_are_ok(evaluator, backend, clock):
    alarm = _alarm(backend, periods=3, to_alarm=2)
    for minutes_ago, value in ((1, 5.0), (2, 0.0), (3, 0.0)):
        _put(backend, clock, minutes_ago, value)
    evaluator.evaluate(backend, alarm)
    assert alarm.state_value == "OK"


def test_the_current_unfinished_period_is_not_evaluated(evaluator, backend, clock):
    alarm = _alarm(backend, periods=1)
    _put(backend, clock, 0, 9.0)
    evaluator.evaluate(backend, alarm)
    assert alarm.state_value == "INSUFFICIENT_DATA"
    clock.advance(60)
    evaluator.evaluate(backend, alarm)
    assert alarm.state_value == "ALARM"


@pytest.mark.parametrize(("treatment", "state"), [
    (None, "INSUFFICIENT_DATA"), ("missing", "INSUFFICIENT_DATA"), ("ignore", "INSUFFICIENT_DATA"),
    ("breaching", "ALARM"), ("notBreaching", "OK")])
def test_all_periods_missing_follow_treat_missing_data(evaluator, backend, treatment, state):
    alarm = _alarm(backend, periods=2, missing=treatment)
    evaluator.evaluate(backend, alarm)
    assert alarm.state_value == state


def test_ignore_keeps_the_state_when_every_period_is_missing(evaluator, backend, clock):
    alarm = _alarm(backend, periods=1, missing="ignore")
    _put(backend, clock, 1, 3.0)
    evaluator.evaluate(backend, alarm)
    assert alarm.state_value == "ALARM"
    clock.advance(120)
    assert not evaluator.evaluate(backend, alarm)
    assert alarm.state_value == "ALARM"


def test_breaching_missing_periods_count_towards_m(evaluator, backend, clock):
    alarm = _alarm(backend, periods=3, to_alarm=3, missing="breaching")
    _put(backend, clock, 2, 2.0)
    evaluator.evaluate(backend, alarm)
    assert alarm.state_value == "ALARM"
    assert "2 missing datapoints were treated as [Breaching]" in alarm.state_reason


@pytest.mark.parametrize(("statistic", "operator", "threshold", "state"), [
    ("Maximum", "GreaterThanThreshold", 7.0, "ALARM"), ("Minimum", "LessThanThreshold", 2.0, "ALARM"),
    ("Average", "LessThanOrEqualToThreshold", 4.0, "ALARM"), ("SampleCount", "GreaterThanThreshold", 3.0, "OK")])
def test_the_statistic_of_a_period_is_compared(evaluator, backend, clock, statistic, operator, threshold, state):
    alarm = _alarm(backend, periods=1, statistic=statistic, operator=operator, threshold=threshold)
    for value in (1.0, 3.0, 8.0):
        _put(backend, clock, 1, value)
    evaluator.evaluate(backend, alarm)
    assert alarm.state_value == state


def test_a_datapoint_is_placed_on_the_clock_as_it_stood_when_it_arrived(evaluator, backend, clock):
    alarm = _alarm(backend, periods=1)
    clock.advance(3600)
    backend.put_metric_data("AWS/Lambda", [{"MetricName": "Errors", "Value": 4.0, "Dimensions": DIMENSIONS,
                                            "Timestamp": datetime.now(UTC)}])  # real time, as Lambda stamps it
    evaluator.evaluate(backend, alarm)
    assert alarm.state_value == "INSUFFICIENT_DATA"  # its minute is not over on the clock
    clock.advance(60)
    evaluator.evaluate(backend, alarm)
    assert alarm.state_value == "ALARM"


def test_state_changes_are_in_the_history_newest_last(evaluator, backend, clock):
    alarm = _alarm(backend, periods=1, missing="notBreaching")
    evaluator.evaluate(backend, alarm)
    _put(backend, clock, 0, 2.0)
    clock.advance(60)
    evaluator.evaluate(backend, alarm)
    summaries = [item["HistorySummary"] for item in alarm.emulator_history]
    assert summaries == ['Alarm "door-errors" created', "Alarm updated from INSUFFICIENT_DATA to OK",
                         "Alarm updated from OK to ALARM"]
    assert alarm.state_updated_timestamp == alarm.emulator_history[-1]["Timestamp"]
