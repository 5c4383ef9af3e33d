"""Fidelity, issue 26: SNS -> Lambda subscriptions as AWS runs them: Publish returns at once, the function runs
asynchronously with SNS's record (https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html), the subscription's
filter policy honoured. Plain boto3: reruns against AWS."""

import base64
import json
from datetime import UTC, datetime

import pytest

from tests.emulator.conftest import log_messages, receive_all
from tests.emulator.fidelity import emulator_only, unique
from tests.emulator.functions import HANDLERS

pytestmark = pytest.mark.integration

# Reports each event to $REPORT_QUEUE_URL, then sleeps $SLEEP seconds.
REPORTING_SLEEPER = """
import json, os, time, boto3
_sqs = boto3.client("sqs")

def lambda_handler(event, context):
    _sqs.send_message(QueueUrl=os.environ["REPORT_QUEUE_URL"], MessageBody=json.dumps(event))
    time.sleep(float(os.environ.get("SLEEP", "0")))
"""


def _subscribed_function(cloud, sleep: float = 0, filter_policy: dict | None = None, source: str = REPORTING_SLEEPER,
                         permitted: bool = True):
    """A topic with a reporting function subscribed (`permitted`: its resource policy lets SNS invoke it for this
    topic): (topic ARN, subscription ARN, report queue URL)."""
    report_url, _ = cloud.queue()
    function_arn = cloud.function(source, env={"REPORT_QUEUE_URL": report_url, "SLEEP": str(sleep)})
    sns = cloud.client("sns")
    topic = sns.create_topic(Name=unique("fidelity"))["TopicArn"]
    cloud._cleanups.append(lambda: sns.delete_topic(TopicArn=topic))
    if permitted:
        permit_sns(cloud, function_arn, topic)
    attributes = {"FilterPolicy": json.dumps(filter_policy)} if filter_policy else {}
    subscription = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function_arn, Attributes=attributes,
                                 ReturnSubscriptionArn=True)["SubscriptionArn"]
    return topic, subscription, report_url


def permit_sns(cloud, function_arn: str, topic: str) -> None:
    cloud.client("lambda").add_permission(FunctionName=function_arn, StatementId="sns", Action="lambda:InvokeFunction",
                                          Principal="sns.amazonaws.com", SourceArn=topic)


def _events(cloud, report_url: str, expected: int, timeout: float | None = None) -> list[dict]:
    messages = receive_all(cloud.client("sqs"), report_url, expected=expected, timeout=timeout or cloud.patience)
    return [json.loads(m["Body"]) for m in messages]


def test_the_publisher_returns_while_the_subscribed_function_still_sleeps(cloud):
    topic, _, report_url = _subscribed_function(cloud, source=HANDLERS["sleep_then_report"], sleep=3)
    cloud.client("sns").publish(TopicArn=topic, Message="published")
    # the function reports only after sleeping 3 s: had Publish waited for it, its report would be queued by now
    assert "Messages" not in cloud.client("sqs").receive_message(QueueUrl=report_url, WaitTimeSeconds=0)
    [event] = _events(cloud, report_url, expected=1)
    assert event["Records"][0]["Sns"]["Message"] == "published"


def test_the_record_carries_the_topic_the_subscription_and_the_message_as_published(cloud):
    topic, subscription, report_url = _subscribed_function(cloud)
    before = datetime.now(UTC)
    message_id = cloud.client("sns").publish(
        TopicArn=topic, Message="hello", Subject="greeting",
        MessageAttributes={"color": {"DataType": "String", "StringValue": "red"},
                           "size": {"DataType": "Number", "StringValue": "3"}})["MessageId"]
    [event] = _events(cloud, report_url, expected=1)
    received = datetime.now(UTC)
    [record] = event["Records"]
    assert record["EventSource"] == "aws:sns"
    assert record["EventVersion"] == "1.0"
    assert record["EventSubscriptionArn"] == subscription
    sns = record["Sns"]
    assert sns["Type"] == "Notification"
    assert sns["MessageId"] == message_id
    assert sns["TopicArn"] == topic
    assert sns["Subject"] == "greeting"
    assert sns["Message"] == "hello"
    assert sns["MessageAttributes"] == {"color": {"Type": "String", "Value": "red"},
                                        "size": {"Type": "Number", "Value": "3"}}
    stamp = datetime.strptime(sns["Timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert before.replace(microsecond=before.microsecond // 1000 * 1000) <= stamp <= received  # the publish's moment
    assert sns["SignatureVersion"] in ("1", "2")
    assert len(base64.b64decode(sns["Signature"])) >= 128
    assert sns["SigningCertUrl"].startswith("https://sns.") and sns["SigningCertUrl"].endswith(".pem")
    assert sns["UnsubscribeUrl"].endswith(f"SubscriptionArn={subscription}")


def test_a_message_without_subject_or_attributes_has_a_null_subject_and_no_attributes(cloud):
    topic, _, report_url = _subscribed_function(cloud)
    cloud.client("sns").publish(TopicArn=topic, Message="plain")
    [event] = _events(cloud, report_url, expected=1)
    sns = event["Records"][0]["Sns"]
    assert sns["Subject"] is None
    assert sns["MessageAttributes"] == {}


def test_the_filter_policy_decides_which_messages_reach_the_function(cloud):
    topic, _, report_url = _subscribed_function(cloud, filter_policy={"color": ["blue"]})
    sns = cloud.client("sns")
    sns.publish(TopicArn=topic, Message="red one",
                MessageAttributes={"color": {"DataType": "String", "StringValue": "red"}})
    sns.publish(TopicArn=topic, Message="blue one",
                MessageAttributes={"color": {"DataType": "String", "StringValue": "blue"}})
    events = _events(cloud, report_url, expected=2, timeout=5)
    assert [e["Records"][0]["Sns"]["Message"] for e in events] == ["blue one"]


def sns_denial(function_arn: str, topic: str) -> str:
    return (f"IAM: sns.amazonaws.com is not authorized to perform: lambda:InvokeFunction on resource: {function_arn} "
            "because no resource-based policy allows the lambda:InvokeFunction action")


@emulator_only
def test_a_function_sns_may_not_invoke_is_still_run_in_warn_mode_and_its_log_says_so(cloud, emulator):
    """On AWS the delivery fails (the function's resource policy does not name SNS); EMULATOR_IAM=warn delivers it
    and writes why it would fail (EMULATOR_IAM=enforce does not deliver: test_fidelity_iam_policies.py)."""
    topic, subscription, report_url = _subscribed_function(cloud, permitted=False)
    cloud.client("sns").publish(TopicArn=topic, Message="unpermitted")
    [event] = _events(cloud, report_url, expected=1)
    assert event["Records"][0]["Sns"]["Message"] == "unpermitted"
    function_arn = cloud.client("sns").get_subscription_attributes(SubscriptionArn=subscription)["Attributes"][
        "Endpoint"]
    expected = sns_denial(function_arn, topic)
    assert any(line.startswith(expected) for line in log_messages(emulator, function_arn.split(":")[6],
                                                                   until=expected))
