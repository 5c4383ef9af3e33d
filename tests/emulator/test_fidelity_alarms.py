"""Fidelity, issue 26: CloudWatch alarms on the AWS/Lambda metrics of a function start in INSUFFICIENT_DATA and move
to ALARM and back to OK as CloudWatch evaluates them (Period, EvaluationPeriods, DatapointsToAlarm, Statistic,
ComparisonOperator, TreatMissingData), with their history and an SNS action. On the emulator the clock is advanced
instead of waiting for periods to pass. Plain boto3: reruns against AWS."""

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from tests.emulator.conftest import receive_all
from tests.emulator.fidelity import advance_clock, early_in_a_minute, unique

pytestmark = pytest.mark.integration

HANDLER = """
def lambda_handler(event, context):
    if event.get("fail"):
        raise RuntimeError("asked to fail")
    return "fine"
"""


@pytest.fixture(scope="module")
def function_arn(cloud):
    return cloud.function(HANDLER)


def _put_alarm(cloud, function_arn: str, metric: str, **settings) -> str:
    """An alarm on one AWS/Lambda metric of the function, with a 60 s period: its name."""
    cloudwatch = cloud.client("cloudwatch")
    name = unique("fidelity")
    cloudwatch.put_metric_alarm(
        AlarmName=name, Namespace="AWS/Lambda", MetricName=metric, Period=60,
        Dimensions=[{"Name": "FunctionName", "Value": function_arn.split(":")[6]}], **settings)
    cloud._cleanups.append(lambda: cloudwatch.delete_alarms(AlarmNames=[name]))
    return name


def _alarm(cloud, name: str) -> dict:
    return cloud.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"][0]


def _state_becomes(cloud, name: str, state: str) -> dict:
    """The alarm once its state is `state` (evaluations run in the background)."""
    deadline = time.monotonic() + cloud.patience * 2
    while (alarm := _alarm(cloud, name))["StateValue"] != state:
        assert time.monotonic() < deadline, f"{name} is {alarm['StateValue']} ({alarm['StateReason']}), not {state}"
        time.sleep(0.2)
    return alarm


def _invoke(cloud, function_arn: str, times: int, fail: bool) -> None:
    lam = cloud.client("lambda")
    for _ in range(times):
        answer = lam.invoke(FunctionName=function_arn, Payload=json.dumps({"fail": fail}).encode())
        assert ("FunctionError" in answer) == fail


def test_errors_move_the_alarm_to_alarm_then_back_to_ok(cloud, function_arn):
    queue_url, queue_arn = cloud.queue()
    topic = cloud.topic_to(queue_arn)
    name = _put_alarm(cloud, function_arn, "Errors", Statistic="Sum", Threshold=1.0, EvaluationPeriods=2,
                      DatapointsToAlarm=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
                      TreatMissingData="notBreaching", AlarmActions=[topic])
    created = _alarm(cloud, name)
    if created["StateValue"] == "INSUFFICIENT_DATA":
        assert created["StateReason"] == "Unchecked: Initial alarm creation"
    else:  # evaluated already (every second, as AWS may within its first minute): no data is OK, by notBreaching
        history = cloud.client("cloudwatch").describe_alarm_history(AlarmName=name, HistoryItemType="StateUpdate")
        assert [item["HistorySummary"] for item in history["AlarmHistoryItems"]] \
            == ["Alarm updated from INSUFFICIENT_DATA to OK"]

    early_in_a_minute(cloud)  # the three errors in one period
    _invoke(cloud, function_arn, 3, fail=True)
    assert cloud.wait_for_metric(function_arn, "Errors", 3) >= 3
    advance_clock(cloud, 60)
    alarmed = _state_becomes(cloud, name, "ALARM")
    assert alarmed["StateReason"].startswith("Threshold Crossed: 1 out of the last 2 datapoints [3.0 (")
    assert "was greater than or equal to the threshold (1.0)" in alarmed["StateReason"]
    assert json.loads(alarmed["StateReasonData"])["recentDatapoints"] == [3.0]

    notice = json.loads(receive_all(cloud.client("sqs"), queue_url, expected=1, timeout=cloud.patience)[0]["Body"])
    assert (notice["AlarmName"], notice["NewStateValue"], notice["AlarmArn"]) == (name, "ALARM",
                                                                                   alarmed["AlarmArn"])
    assert notice["Trigger"]["MetricName"] == "Errors" and notice["Trigger"]["Namespace"] == "AWS/Lambda"
    assert notice["Trigger"]["Dimensions"] == [{"value": function_arn.split(":")[6], "name": "FunctionName"}]

    advance_clock(cloud, 180)  # both evaluated periods now lie after the errors
    recovered = _state_becomes(cloud, name, "OK")
    assert recovered["StateUpdatedTimestamp"] > alarmed["StateUpdatedTimestamp"]
    history = cloud.client("cloudwatch").describe_alarm_history(AlarmName=name, HistoryItemType="StateUpdate")
    summaries = [item["HistorySummary"] for item in history["AlarmHistoryItems"]]
    assert summaries[0] == "Alarm updated from ALARM to OK"
    assert summaries[1].endswith(" to ALARM")
    assert json.loads(history["AlarmHistoryItems"][0]["HistoryData"])["newState"]["stateValue"] == "OK"


def test_missing_data_keeps_the_alarm_insufficient_until_datapoints_arrive(cloud, function_arn):
    name = _put_alarm(cloud, function_arn, "Invocations", Statistic="Sum", Threshold=5.0, EvaluationPeriods=2,
                      ComparisonOperator="GreaterThanThreshold")  # two periods: the invocations' minute is in them
    advance_clock(cloud, 120)
    time.sleep(2 if cloud.endpoint_url else 0)  # two evaluations on the emulator
    assert _alarm(cloud, name)["StateValue"] == "INSUFFICIENT_DATA"

    before = cloud.metric_sum(function_arn, "Invocations")
    early_in_a_minute(cloud)  # the two invocations in one period
    _invoke(cloud, function_arn, 2, fail=False)
    assert cloud.wait_for_metric(function_arn, "Invocations", before + 2) >= before + 2
    advance_clock(cloud, 60)
    ok = _state_becomes(cloud, name, "OK")
    assert "was not greater than the threshold (5.0)" in ok["StateReason"]

    advance_clock(cloud, 180)
    insufficient = _state_becomes(cloud, name, "INSUFFICIENT_DATA")
    assert insufficient["StateReason"] == "Insufficient Data: 2 datapoints were unknown."


def test_putting_an_existing_alarm_again_keeps_its_state(cloud, function_arn):
    settings = {"Statistic": "Sum", "Threshold": 0.0, "EvaluationPeriods": 1,
                "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "breaching"}
    name = _put_alarm(cloud, function_arn, "Throttles", **settings)
    advance_clock(cloud, 60)
    _state_becomes(cloud, name, "ALARM")  # a missing period treated as breaching
    cloud.client("cloudwatch").put_metric_alarm(
        AlarmName=name, Namespace="AWS/Lambda", MetricName="Throttles", Period=60,
        Dimensions=[{"Name": "FunctionName", "Value": function_arn.split(":")[6]}], **settings)
    assert _alarm(cloud, name)["StateValue"] == "ALARM"


def test_statistics_asking_for_more_than_1440_datapoints_are_refused(cloud):
    """moto answered any window: a grading script asking for a day at a 1-minute period works here, not on AWS."""
    cloudwatch, end = cloud.client("cloudwatch"), datetime.now(UTC).replace(microsecond=0)
    window = {"Namespace": unique("Probe"), "MetricName": "Duration", "Statistics": ["Average"], "EndTime": end}
    with pytest.raises(ClientError) as refused:
        cloudwatch.get_metric_statistics(StartTime=end - timedelta(days=1), Period=1, **window)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterCombination"
    assert refused.value.response["Error"]["Message"] == (
        "You have requested up to 86400 datapoints, which exceeds the limit of 1440. You may reduce the datapoints "
        "requested by increasing Period, or decreasing the time range.")
    assert cloudwatch.get_metric_statistics(StartTime=end - timedelta(days=1), Period=60, **window)["Datapoints"] == []


@pytest.mark.parametrize("period", [90, 45, 61])
def test_statistics_for_a_period_cloudwatch_does_not_keep_are_refused(cloud, period):
    """moto answered any Period; CloudWatch's are 1, 5, 10, 20, 30 (high resolution) and multiples of 60."""
    cloudwatch, end = cloud.client("cloudwatch"), datetime.now(UTC).replace(microsecond=0)
    window = {"Namespace": unique("Probe"), "MetricName": "Duration", "Statistics": ["Average"], "EndTime": end,
              "StartTime": end - timedelta(minutes=20)}  # 1,200 one-second datapoints at most
    with pytest.raises(ClientError) as refused:
        cloudwatch.get_metric_statistics(Period=period, **window)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert refused.value.response["Error"]["Message"] == "The parameter Period must be a multiple of 60."
    for allowed in (1, 5, 10, 20, 30, 60, 120):
        assert cloudwatch.get_metric_statistics(Period=allowed, **window)["Datapoints"] == []


def test_putting_more_than_1000_metrics_or_150_values_is_refused(cloud):
    """moto stored them: a publisher that batches too much works here, not on AWS."""
    cloudwatch, namespace = cloud.client("cloudwatch"), unique("Probe")
    datum = {"MetricName": "Faces", "Value": 1.0, "Unit": "Count"}
    with pytest.raises(ClientError) as refused:
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=[datum] * 1001)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert refused.value.response["Error"]["Message"] == (
        "The collection MetricData must not have a size greater than 1000.")
    values = {"MetricName": "Faces", "Values": [float(v) for v in range(151)], "Unit": "Count"}
    with pytest.raises(ClientError) as refused:
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=[datum, values])
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert refused.value.response["Error"]["Message"] == (
        "The collection MetricData.member.2.Values must not have a size greater than 150.")
    at_the_limits = [datum] * 999 + [values | {"Values": values["Values"][:150]}]
    cloudwatch.put_metric_data(Namespace=namespace, MetricData=at_the_limits)
