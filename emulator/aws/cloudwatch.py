"""CloudWatch: metrics rolled up and dropped as AWS keeps them, and metric alarms evaluated as AWS evaluates them.

Metrics: datapoints of finished minutes rolled into one statistic set per minute, then dropped. Standard-resolution
metrics are kept as 1-minute points by AWS too (15 days, then coarser:
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#metrics-retention); the
emulator keeps them `EMULATOR_METRICS_RETENTION_DAYS`. moto's datum classes are built here, checked by signature.

Alarms ("Alarm evaluation", https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-evaluation.html;
"Using Amazon CloudWatch alarms", https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html).
moto stores alarms, starts them in OK and never evaluates them. Here:
- `CloudWatchBackend.put_metric_alarm`: a new alarm starts in INSUFFICIENT_DATA ("Unchecked: Initial alarm
  creation"); putting an existing one keeps its state and history (AWS: "When you update an existing alarm, its
  state is left unchanged");
- `Alarm.update_state` (SetAlarmState, and every evaluation): the change is stamped with the emulator's clock,
  written to its history (`StateUpdate`), and the new state's actions run (SNS topics) when actions are enabled;
- `CloudWatchResponse.__init__`: each response is an `AlarmHistoryResponse`, which adds DescribeAlarmHistory (moto
  has none) to moto's own actions.
GetMetricStatistics asking for more than 1,440 datapoints ((EndTime - StartTime) / Period) is refused with AWS's
`InvalidParameterCombination` "You have requested up to 86400 datapoints, which exceeds the limit of 1440. You may
reduce the datapoints requested by increasing Period, or decreasing the time range."
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricStatistics.html); moto answered.
A Period that is not a multiple of 60 nor one of the high-resolution periods 1, 5, 10, 20, 30 is refused with
`InvalidParameterValue` "The parameter Period must be a multiple of 60." (the periods: MetricStat's Period,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricStat.html); moto answered.
PutMetricData (`CloudWatchBackend.put_metric_data`) of more than 1,000 metrics, or a metric with more than 150
Values, is refused with `InvalidParameterValue` "The collection MetricData must not have a size greater than
1000." / "The collection MetricData.member.1.Values must not have a size greater than 150."
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html); moto stored them.

`AlarmEvaluator` evaluates every metric alarm each second over its last EvaluationPeriods complete periods: at least
DatapointsToAlarm (M, default EvaluationPeriods) breaching -> ALARM, else OK; when every period is missing,
TreatMissingData `missing` (the default) -> INSUFFICIENT_DATA and `ignore` -> the state stays; `breaching` and
`notBreaching` count a missing period as that. Alarms live on the emulator's clock (emulator/clock.py): datapoints
carry real time (the Lambda service stamps them so), and `MetricDatumBase.__init__` notes on each one how far the
clock had been advanced when it arrived, which is added to its time when an alarm reads it; so a test that advances
the clock a period sees that period complete, while GetMetricStatistics keeps answering in real time. Not evaluated
(they keep their state): metric math, percentile statistics, anomaly-detection thresholds, composite alarms. AWS
also looks further back than EvaluationPeriods when data is missing ("evaluation range"); the emulator does not.
"""

from __future__ import annotations

import json
import logging
import math
import queue
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from moto.cloudwatch.exceptions import InvalidParameterCombination, InvalidParameterValue
from moto.cloudwatch.models import (
    Alarm,
    CloudWatchBackend,
    MetricAggregatedDatum,
    MetricDatum,
    MetricDatumBase,
    Statistics,
    cloudwatch_backends,
)
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult

from emulator.aws.registry import Internal, Patch
from emulator.clock import ClockTicker, EmulatorClock

logger = logging.getLogger(__name__)

AGGREGATED_DATUM = Internal(MetricAggregatedDatum, "__init__",
                            ("self", "namespace", "name", "min_stat", "max_stat", "sample_count", "sum_stat",
                             "dimensions", "timestamp", "unit"))


PUT_ALARM = Internal(CloudWatchBackend, "put_metric_alarm",
                     ("self", "name", "namespace", "metric_name", "comparison_operator", "evaluation_periods",
                      "period", "threshold", "statistic"))
ALARM_STATE = Internal(Alarm, "update_state", ("self", "reason", "reason_data", "state_value"),
                       source="self.state_updated_timestamp = utcnow()")
DATUM_INIT = Internal(MetricDatumBase, "__init__", ("self", "namespace", "name", "dimensions", "timestamp", "unit"),
                      source="self.timestamp = timestamp or utcnow()")
RESPONSE_INIT = Internal(CloudWatchResponse, "__init__", ("self",),
                         source='super().__init__(service_name="cloudwatch")')
GET_STATISTICS = Internal(CloudWatchBackend, "get_metric_statistics",
                          ("self", "namespace", "metric_name", "start_time", "end_time", "period"))
PUT_DATA = Internal(CloudWatchBackend, "put_metric_data", ("self", "namespace", "metric_data"))
INTERNALS = (AGGREGATED_DATUM, PUT_ALARM, ALARM_STATE, DATUM_INIT, RESPONSE_INIT, GET_STATISTICS, PUT_DATA)
MAX_DATAPOINTS = 1440
HIGH_RESOLUTION_PERIODS = frozenset({1, 5, 10, 20, 30})  # seconds; every other Period is a multiple of 60
MAX_METRICS_PER_PUT = 1000
MAX_VALUES_PER_METRIC = 150


def roll_up_metrics(backend: CloudWatchBackend, now: datetime, keep: timedelta) -> tuple[int, int]:
    """Rolls the single datapoints of finished minutes into per-minute statistic sets and drops those older than
    `keep`: (rolled, dropped)."""
    minute = now.replace(second=0, microsecond=0)
    oldest = now - keep
    cut = len(backend.metric_data)
    kept: list[Any] = []
    dropped = 0
    groups: dict[tuple[Any, ...], list[MetricDatum]] = defaultdict(list)
    for datum in backend.metric_data[:cut]:
        moment = _as_utc(datum.timestamp)
        if moment < oldest:
            dropped += 1
        elif isinstance(datum, MetricDatum) and moment < minute:
            dimensions = tuple((d.name, d.value) for d in datum.dimensions)
            start = datum.timestamp.replace(second=0, microsecond=0)  # keeps the datum's own tz-awareness
            groups[(datum.namespace, datum.name, dimensions, datum.unit, start, clock_offset(datum))].append(datum)
        else:
            kept.append(datum)
    for (namespace, name, dimensions, unit, start, offset), points in groups.items():
        values = [p.value for p in points]
        rolled = MetricAggregatedDatum(
            namespace=namespace, name=name, min_stat=min(values), max_stat=max(values),
            sample_count=float(len(values)), sum_stat=sum(values),
            dimensions=[{"Name": k, "Value": v} for k, v in dimensions], timestamp=start, unit=unit)
        _note_offset(rolled, offset)
        kept.append(rolled)
    kept.sort(key=lambda d: _as_utc(d.timestamp))
    backend.metric_data[:cut] = kept  # one list operation: datapoints put meanwhile (after `cut`) stay
    return sum(len(points) for points in groups.values()), dropped


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


INSUFFICIENT_DATA, OK, ALARM = "INSUFFICIENT_DATA", "OK", "ALARM"
INITIAL_REASON = "Unchecked: Initial alarm creation"
EVALUATION_SECONDS = 1.0
HISTORY_ATTRIBUTE = "emulator_history"  # on moto's Alarm: our history items, newest last
OFFSET_ATTRIBUTE = "emulator_clock_offset"  # on a moto datum: the clock's offset (s) when it arrived, if not 0
_COMPARISONS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanOrEqualToThreshold": (lambda value, limit: value >= limit, "greater than or equal to"),
    "GreaterThanThreshold": (lambda value, limit: value > limit, "greater than"),
    "LessThanThreshold": (lambda value, limit: value < limit, "less than"),
    "LessThanOrEqualToThreshold": (lambda value, limit: value <= limit, "less than or equal to"),
}
Publish = Callable[[str, str, str], None]  # (topic ARN, subject, message)


@dataclass(frozen=True)
class Datapoint:
    """One period of an alarm's evaluation: its start and statistic (None: missing)."""

    start: datetime
    value: float | None

    def text(self) -> str:
        return f"{self.value} ({self.start:%d/%m/%y %H:%M:%S})"


class AlarmHistoryResponse(CloudWatchResponse):
    """moto's CloudWatch responses plus DescribeAlarmHistory, read from the history the patches write."""

    def describe_alarm_history(self) -> ActionResult:
        name = self._get_param("AlarmName")
        kind = self._get_param("HistoryItemType")
        start, end = (self._get_param(field) for field in ("StartDate", "EndDate"))
        start, end = (None if moment is None else _as_utc(moment) for moment in (start, end))
        limit = int(self._get_param("MaxRecords") or 100)
        backend = cloudwatch_backends[self.current_account][self.region]
        items = [item for alarm in list(backend.alarms.values()) if name in (None, alarm.name)
                 for item in getattr(alarm, HISTORY_ATTRIBUTE, [])
                 if kind in (None, item["HistoryItemType"]) and (start is None or item["Timestamp"] >= start)
                 and (end is None or item["Timestamp"] <= end)]
        newest_first = (self._get_param("ScanBy") or "TimestampDescending") == "TimestampDescending"
        items.sort(key=lambda item: item["Timestamp"], reverse=newest_first)
        return ActionResult({"AlarmHistoryItems": items[:limit]})


class AlarmEvaluator:
    """Evaluates every metric alarm of every account and region each second, and runs the actions of their state
    changes (SNS publishes, off the evaluating thread's moto calls)."""

    def __init__(self, clock: EmulatorClock, publish: Publish) -> None:
        self._clock = clock
        self._publish = publish
        self._actions: queue.Queue[tuple[Alarm, str, str]] = queue.Queue()
        self._ticker = ClockTicker("cloudwatch-alarms", self.tick, clock, EVALUATION_SECONDS)

    def patches(self) -> list[Patch]:
        def update_state(alarm: Alarm, reason: str, reason_data: str, state_value: str) -> None:
            self._update_state(alarm, reason, reason_data, state_value)

        return [Patch(PUT_ALARM, self._putting), Patch(ALARM_STATE, lambda _: update_state),
                Patch(DATUM_INIT, self._noting_offset), Patch(RESPONSE_INIT, _with_alarm_history),
                Patch(GET_STATISTICS, _checked_statistics_request), Patch(PUT_DATA, _checked_metric_data)]

    def start(self) -> None:
        self._ticker.start()

    def stop(self) -> None:
        self._ticker.stop()

    def tick(self) -> int:
        """Evaluates every alarm once, then runs the actions of their changes; returns how many changed state."""
        changed = 0
        for regions in list(cloudwatch_backends.values()):
            for backend in list(regions.values()):
                for alarm in list(backend.alarms.values()):
                    changed += self.evaluate(backend, alarm)
        self._run_actions()
        return changed

    def evaluate(self, backend: CloudWatchBackend, alarm: Alarm) -> bool:
        """One evaluation of a metric alarm; True when its state changed."""
        if not _evaluable(alarm):
            return False
        now = self._clock.now()
        points = _datapoints(backend, alarm, now)
        state, reason, data = _verdict(alarm, points, now)
        if state is None or state == alarm.state_value:
            return False
        alarm.update_state(reason, json.dumps(data), state)
        return True

    def _noting_offset(self, original: Any) -> Any:
        def init(datum: MetricDatumBase, *args: Any, **kwargs: Any) -> None:
            original(datum, *args, **kwargs)
            _note_offset(datum, self._clock.offset_seconds())

        return init

    def _putting(self, original: Any) -> Any:
        def put_metric_alarm(backend: CloudWatchBackend, *args: Any, **kwargs: Any) -> Alarm:
            name = kwargs["name"] if "name" in kwargs else args[0]
            previous = backend.alarms.get(name)
            alarm = original(backend, *args, **kwargs)
            if previous is not None:
                for attribute in ("state_value", "state_reason", "state_reason_data", "state_updated_timestamp",
                                  HISTORY_ATTRIBUTE):
                    setattr(alarm, attribute, getattr(previous, attribute, None))
                _record(alarm, "ConfigurationUpdate", f'Alarm "{name}" updated', {"type": "Update"},
                        self._clock.now())
                return alarm
            now = self._clock.now()
            alarm.state_value, alarm.state_reason, alarm.state_reason_data = INSUFFICIENT_DATA, INITIAL_REASON, "{}"
            alarm.state_updated_timestamp = alarm.configuration_updated_timestamp = now
            setattr(alarm, HISTORY_ATTRIBUTE, [])
            _record(alarm, "ConfigurationUpdate", f'Alarm "{name}" created', {"type": "Create"}, now)
            return alarm

        return put_metric_alarm

    def _update_state(self, alarm: Alarm, reason: str, reason_data: str, state_value: str) -> None:
        now = self._clock.now()
        old = {"stateValue": alarm.state_value, "stateReason": alarm.state_reason}
        new: dict[str, Any] = {"stateValue": state_value, "stateReason": reason}
        if reason_data:
            new["stateReasonData"] = json.loads(reason_data)
        alarm.state_reason, alarm.state_reason_data, alarm.state_value = reason, reason_data, state_value
        alarm.state_updated_timestamp = alarm.state_transitioned_timestamp = now
        _record(alarm, "StateUpdate", f"Alarm updated from {old['stateValue']} to {state_value}",
                {"version": "1.0", "oldState": old, "newState": new}, now)
        if alarm.actions_enabled:
            actions = {ALARM: alarm.alarm_actions, OK: alarm.ok_actions,
                       INSUFFICIENT_DATA: alarm.insufficient_data_actions}[state_value]
            for action in actions or []:
                self._actions.put((alarm, action, old["stateValue"]))

    def _run_actions(self) -> None:
        while not self._actions.empty():
            alarm, action, old_state = self._actions.get()
            now = self._clock.now()
            if action.split(":")[2:3] != ["sns"]:
                logger.warning("alarm %s: action %s is not emulated (SNS topics are)", alarm.name, action)
                _record(alarm, "Action", f"Failed to execute action {action}", {"actionState": "Failed",
                        "notificationResource": action, "error": "not emulated"}, now)
                continue
            try:
                self._publish(action, _subject(alarm), json.dumps(notification(alarm, old_state)))
            except (BotoCoreError, ClientError) as exc:
                logger.error("alarm %s: action %s failed: %s", alarm.name, action, exc)
                _record(alarm, "Action", f"Failed to execute action {action}", {"actionState": "Failed",
                        "notificationResource": action, "error": str(exc)}, now)
                continue
            _record(alarm, "Action", f"Successfully executed action {action}",
                    {"actionState": "Succeeded", "notificationResource": action}, now)


def notification(alarm: Alarm, old_state: str) -> dict[str, Any]:
    """The message an alarm's SNS action publishes, in AWS's shape."""
    account, region = alarm.alarm_arn.split(":")[4], alarm.alarm_arn.split(":")[3]
    return {
        "AlarmName": alarm.name, "AlarmDescription": alarm.description, "AWSAccountId": account,
        "AlarmConfigurationUpdatedTimestamp": _iso(alarm.configuration_updated_timestamp),
        "NewStateValue": alarm.state_value, "NewStateReason": alarm.state_reason,
        "StateChangeTime": _iso(alarm.state_updated_timestamp), "Region": region, "AlarmArn": alarm.alarm_arn,
        "OldStateValue": old_state, "OKActions": alarm.ok_actions, "AlarmActions": alarm.alarm_actions,
        "InsufficientDataActions": alarm.insufficient_data_actions,
        "Trigger": {
            "MetricName": alarm.metric_name, "Namespace": alarm.namespace, "StatisticType": "Statistic",
            "Statistic": str(alarm.statistic).upper(), "Unit": alarm.unit,
            "Dimensions": [{"value": d.value, "name": d.name} for d in alarm.dimensions],
            "Period": alarm.period, "EvaluationPeriods": alarm.evaluation_periods,
            "DatapointsToAlarm": alarm.datapoints_to_alarm or alarm.evaluation_periods,
            "ComparisonOperator": alarm.comparison_operator, "Threshold": alarm.threshold,
            "TreatMissingData": alarm.treat_missing_data or "missing", "EvaluateLowSampleCountPercentile": "",
        },
    }


def _with_alarm_history(original: Any) -> Any:
    def init(response: CloudWatchResponse) -> None:
        original(response)
        response.__class__ = AlarmHistoryResponse

    return init


def _evaluable(alarm: Alarm) -> bool:
    return bool(alarm.metric_name and alarm.statistic and alarm.rule is None and not alarm.metric_data_queries
                and alarm.comparison_operator in _COMPARISONS)


def _datapoints(backend: CloudWatchBackend, alarm: Alarm, now: datetime) -> list[Datapoint]:
    """The statistic of each of the alarm's last EvaluationPeriods complete periods, newest first."""
    period = int(alarm.period)
    end = datetime.fromtimestamp(math.floor(now.timestamp() / period) * period, UTC)
    wanted = [(end - timedelta(seconds=period * (i + 1)), end - timedelta(seconds=period * i))
              for i in range(int(alarm.evaluation_periods))]
    dimensions = [{"Name": d.name, "Value": d.value} for d in alarm.dimensions]
    data = [(d, _as_utc(d.timestamp) + timedelta(seconds=clock_offset(d))) for d in list(backend.get_all_metrics())
            if d.namespace == alarm.namespace and d.name == alarm.metric_name
            and (not alarm.unit or d.unit == alarm.unit) and (not dimensions or d.filter(None, None, dimensions))]
    points = []
    for start, stop in wanted:
        statistics = Statistics([alarm.statistic], start)
        statistics.metric_data = [d for d, moment in data if start <= moment < stop]
        value = statistics.get_statistics_for_type(alarm.statistic) if statistics.metric_data else None
        points.append(Datapoint(start, None if value is None else float(value)))
    return points


def _verdict(alarm: Alarm, points: list[Datapoint], now: datetime) -> tuple[str | None, str, dict[str, Any]]:
    """(new state or None to keep it, StateReason, StateReasonData) of one evaluation."""
    compare, phrase = _COMPARISONS[alarm.comparison_operator]
    threshold = float(alarm.threshold)
    needed = int(alarm.datapoints_to_alarm or alarm.evaluation_periods)
    treatment = alarm.treat_missing_data or "missing"
    present = [p for p in points if p.value is not None]
    data = {"version": "1.0", "queryDate": _iso(now), "startDate": _iso(points[-1].start),
            "statistic": alarm.statistic, "period": int(alarm.period),
            "recentDatapoints": [p.value for p in present], "threshold": threshold,
            "evaluatedDatapoints": [{"timestamp": _iso(p.start), "value": p.value} for p in present]}
    if not present and treatment in ("missing", "ignore"):
        count = len(points)
        reason = f"Insufficient Data: {count} datapoint{'s were' if count > 1 else ' was'} unknown."
        return (INSUFFICIENT_DATA if treatment == "missing" else None), reason, data
    breaching = [p for p in present if compare(p.value, threshold)]
    missing_breach = len(points) - len(present) if treatment == "breaching" else 0
    state = ALARM if len(breaching) + missing_breach >= needed else OK
    shown = breaching if state == ALARM else present
    verb = ("was" if len(shown) == 1 else "were") + ("" if state == ALARM else " not")
    listed = ", ".join(p.text() for p in shown)
    counted = (f"{len(shown)} datapoint{'s' if len(shown) != 1 else ''}" if len(points) == 1
               else f"{len(shown)} out of the last {len(points)} datapoints")
    reason = f"Threshold Crossed: {counted} [{listed}] {verb} {phrase} the threshold ({threshold})"
    if len(points) > 1:
        reason += f" (minimum {needed} datapoint{'s' if needed > 1 else ''} for OK -> ALARM transition)"
    if len(present) < len(points) and treatment in ("breaching", "notBreaching"):
        label = "Breaching" if treatment == "breaching" else "NonBreaching"
        reason += f"; {len(points) - len(present)} missing datapoints were treated as [{label}]"
    return state, reason + ".", data


def _record(alarm: Alarm, kind: str, summary: str, data: dict[str, Any], now: datetime) -> None:
    history = getattr(alarm, HISTORY_ATTRIBUTE, None)
    if history is None:
        history = []
        setattr(alarm, HISTORY_ATTRIBUTE, history)
    history.append({"AlarmName": alarm.name, "AlarmType": "MetricAlarm", "Timestamp": now,
                    "HistoryItemType": kind, "HistorySummary": summary, "HistoryData": json.dumps(data)})


def _subject(alarm: Alarm) -> str:
    return f'{alarm.state_value}: "{alarm.name}" in {alarm.region_name}'[:100]


def _iso(moment: datetime) -> str:
    return _as_utc(moment).strftime("%Y-%m-%dT%H:%M:%S.") + f"{_as_utc(moment).microsecond // 1000:03d}+0000"


def clock_offset(datum: MetricDatumBase) -> float:
    """How far the emulator's clock had been advanced when the datum arrived (seconds)."""
    return float(getattr(datum, OFFSET_ATTRIBUTE, 0.0))


def _note_offset(datum: MetricDatumBase, offset: float) -> None:
    if offset:
        setattr(datum, OFFSET_ATTRIBUTE, offset)
    else:
        datum.__dict__.pop(OFFSET_ATTRIBUTE, None)  # nothing kept per datum while the clock runs true


def requested_datapoints(start: datetime, end: datetime, period: int) -> int:
    """How many datapoints a GetMetricStatistics window asks for: one a period, a partial one counted."""
    return math.ceil((end - start).total_seconds() / period)


def _checked_statistics_request(original: Callable[..., Any]) -> Callable[..., Any]:
    def get_metric_statistics(backend: CloudWatchBackend, namespace: str, metric_name: str, start_time: datetime,
                              end_time: datetime, period: int, *args: Any, **kwargs: Any) -> Any:
        if period > 0:
            _check_period(int(period))
            _check_datapoints(start_time, end_time, int(period))
        return original(backend, namespace, metric_name, start_time, end_time, period, *args, **kwargs)

    return get_metric_statistics


def _check_period(period: int) -> None:
    if period % 60 and period not in HIGH_RESOLUTION_PERIODS:
        raise InvalidParameterValue("The parameter Period must be a multiple of 60.")


def _check_datapoints(start: datetime, end: datetime, period: int) -> None:
    requested = requested_datapoints(start, end, period) if start < end else 0
    if requested > MAX_DATAPOINTS:
        raise InvalidParameterCombination(
            f"You have requested up to {requested} datapoints, which exceeds the limit of {MAX_DATAPOINTS}. "
            "You may reduce the datapoints requested by increasing Period, or decreasing the time range.")


def _checked_metric_data(original: Callable[..., None]) -> Callable[..., None]:
    def put_metric_data(backend: CloudWatchBackend, namespace: str, metric_data: list[dict[str, Any]]) -> None:
        _check_metric_data(metric_data)
        original(backend, namespace, metric_data)

    return put_metric_data


def _check_metric_data(metric_data: list[dict[str, Any]]) -> None:
    """Raises InvalidParameterValue for a PutMetricData over CloudWatch's 1,000 metrics, or 150 values a metric."""
    if len(metric_data) > MAX_METRICS_PER_PUT:
        raise InvalidParameterValue(
            f"The collection MetricData must not have a size greater than {MAX_METRICS_PER_PUT}.")
    for number, datum in enumerate(metric_data, start=1):
        if len(datum.get("Values") or ()) > MAX_VALUES_PER_METRIC:
            raise InvalidParameterValue(f"The collection MetricData.member.{number}.Values must not have a size "
                                        f"greater than {MAX_VALUES_PER_METRIC}.")
