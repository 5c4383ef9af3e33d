"""Fidelity, issue 26: EventBridge rules as AWS runs them: PutEvents matching a rule's pattern reaches Lambda
(asynchronously), SQS and SNS targets, each with its Input, InputPath or InputTransformer; a disabled rule and a
non-matching event reach nothing; a `rate(1 minute)` rule fires (on the emulator, its clock is advanced instead of
waiting a minute). Plain boto3: reruns against AWS."""

import json
import os
import time

import pytest

from tests.emulator.conftest import log_messages, receive_all
from tests.emulator.fidelity import ENV_ENDPOINT, advance_clock, emulator_only, unique
from tests.emulator.functions import HANDLERS

pytestmark = pytest.mark.integration

REPORTER = """
import json, os, boto3
_sqs = boto3.client("sqs")

def lambda_handler(event, context):
    _sqs.send_message(QueueUrl=os.environ["REPORT_QUEUE_URL"], MessageBody=json.dumps(event))
"""
DETAIL = {"door": "front", "person": {"name": "ada", "known": True}}


def _rule(cloud, targets: list[dict], pattern: dict | None = None, schedule: str | None = None) -> str:
    events = cloud.client("events")
    name = unique("fidelity")
    settings = {"EventPattern": json.dumps(pattern)} if pattern else {"ScheduleExpression": schedule}
    arn = events.put_rule(Name=name, **settings)["RuleArn"]
    events.put_targets(Rule=name, Targets=targets)

    def delete() -> None:
        events.remove_targets(Rule=name, Ids=[t["Id"] for t in targets])
        events.delete_rule(Name=name)

    cloud._cleanups.append(delete)
    return arn


def _bodies(cloud, url: str, expected: int, timeout: float | None = None) -> list[str]:
    return [m["Body"] for m in receive_all(cloud.client("sqs"), url, expected, timeout=timeout or cloud.patience)]


def _put(cloud, source: str, detail: dict = DETAIL) -> str:
    response = cloud.client("events").put_events(Entries=[
        {"Source": source, "DetailType": "Door Event", "Detail": json.dumps(detail)}])
    assert response["FailedEntryCount"] == 0, response
    return response["Entries"][0]["EventId"]


def _allow_events(cloud, function_arn: str, rule_arn: str) -> None:
    cloud.client("lambda").add_permission(FunctionName=function_arn, StatementId="events", SourceArn=rule_arn,
                                          Principal="events.amazonaws.com", Action="lambda:InvokeFunction")


def test_a_matching_event_reaches_lambda_sqs_and_sns_targets_each_in_its_input_form(cloud):
    report_url, _ = cloud.queue()
    function_arn = cloud.function(REPORTER, env={"REPORT_QUEUE_URL": report_url})
    path_url, path_arn = cloud.queue()
    topic_queue_url, topic_queue_arn = cloud.queue()
    topic = cloud.topic_to(topic_queue_arn)
    source = unique("door.camera")
    rule_arn = _rule(cloud, pattern={"source": [source], "detail": {"person": {"known": [True]}}}, targets=[
        {"Id": "fn", "Arn": function_arn},
        {"Id": "queue", "Arn": path_arn, "InputPath": "$.detail.person"},
        {"Id": "topic", "Arn": topic, "InputTransformer": {
            "InputPathsMap": {"who": "$.detail.person.name", "door": "$.detail.door", "person": "$.detail.person"},
            "InputTemplate": '{"text": "<who> at the <door> door", "person": <person>, '
                             '"rule": "<aws.events.rule-name>"}'}},
    ])
    _allow_events(cloud, function_arn, rule_arn)
    cloud.client("sns").set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                                               "Action": "sns:Publish", "Resource": topic}]}))
    _put(cloud, source, {**DETAIL, "person": {"name": "eve", "known": False}})  # matches no rule
    event_id = _put(cloud, source)

    [event] = [json.loads(b) for b in _bodies(cloud, report_url, expected=1)]
    assert event["id"] == event_id
    assert (event["source"], event["detail-type"], event["detail"]) == (source, "Door Event", DETAIL)
    assert event["version"] == "0" and event["resources"] == []
    assert time.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ")
    assert "ingestion-time" not in event
    assert [json.loads(b) for b in _bodies(cloud, path_url, expected=1)] == [DETAIL["person"]]
    [transformed] = [json.loads(b) for b in _bodies(cloud, topic_queue_url, expected=1)]
    assert transformed == {"text": "ada at the front door", "person": DETAIL["person"],
                           "rule": rule_arn.split("/")[-1]}
    assert _bodies(cloud, report_url, expected=1, timeout=2) == []  # the non-matching event reached nothing


def test_a_constant_input_replaces_the_event_and_a_disabled_rule_delivers_nothing(cloud):
    url, arn = cloud.queue()
    source = unique("door.camera")
    events = cloud.client("events")
    rule_arn = _rule(cloud, pattern={"source": [source]}, targets=[{"Id": "q", "Arn": arn, "Input": '{"fixed": 1}'}])
    _put(cloud, source)
    assert [json.loads(b) for b in _bodies(cloud, url, expected=1)] == [{"fixed": 1}]
    events.disable_rule(Name=rule_arn.split("/")[-1])
    _put(cloud, source)
    assert _bodies(cloud, url, expected=1, timeout=3) == []


def test_put_events_returns_at_once_while_the_target_function_sleeps(cloud):
    report_url, _ = cloud.queue()
    function_arn = cloud.function(HANDLERS["sleep_then_report"], env={"REPORT_QUEUE_URL": report_url, "SLEEP": "3"})
    source = unique("door.camera")
    rule_arn = _rule(cloud, pattern={"source": [source]}, targets=[{"Id": "fn", "Arn": function_arn}])
    _allow_events(cloud, function_arn, rule_arn)
    _put(cloud, source)
    # the function reports only after sleeping 3 s: had PutEvents waited for it, its report would be queued by now
    assert "Messages" not in cloud.client("sqs").receive_message(QueueUrl=report_url, WaitTimeSeconds=0)
    [body] = _bodies(cloud, report_url, expected=1)
    assert json.loads(body)["source"] == source


def test_a_rate_rule_fires_every_minute_with_the_scheduled_event(cloud):
    url, arn = cloud.queue()
    rule_arn = _rule(cloud, schedule="rate(1 minute)", targets=[{"Id": "q", "Arn": arn}])
    advance_clock(cloud, 61)
    bodies = _bodies(cloud, url, expected=1, timeout=None if os.environ.get(ENV_ENDPOINT) else 10)
    assert bodies, "the rule did not fire within a minute"
    event = json.loads(bodies[0])
    assert (event["source"], event["detail-type"], event["detail"]) == ("aws.events", "Scheduled Event", {})
    assert event["resources"] == [rule_arn]


@emulator_only
def test_a_target_function_whose_resource_policy_does_not_name_eventbridge_gets_an_iam_line(cloud, emulator):
    """On AWS the rule's invocation fails without the permission; EMULATOR_IAM=warn delivers and says why."""
    report_url, _ = cloud.queue()
    function_arn = cloud.function(REPORTER, env={"REPORT_QUEUE_URL": report_url})
    source = unique("door")
    rule_arn = _rule(cloud, [{"Id": "fn", "Arn": function_arn}], pattern={"source": [source]})
    _put(cloud, source)
    assert len(_bodies(cloud, report_url, expected=1)) == 1
    expected = (f"IAM: events.amazonaws.com is not authorized to perform: lambda:InvokeFunction on resource: "
                f"{function_arn} because no resource-based policy allows the lambda:InvokeFunction action (from "
                f"{rule_arn};")
    assert any(line.startswith(expected) for line in log_messages(emulator, function_arn.split(":")[6],
                                                                   until=expected))
