"""Fidelity: SQS queue attributes outside SQS's ranges are refused as SQS refuses them (emulator/aws/sqs.py).
Plain boto3: reruns against AWS."""

import pytest
from botocore.exceptions import ClientError

from tests.emulator.fidelity import unique

pytestmark = pytest.mark.integration

OUT_OF_RANGE = [("VisibilityTimeout", "43201"), ("VisibilityTimeout", "-1"), ("DelaySeconds", "901"),
                ("MessageRetentionPeriod", "59"), ("MessageRetentionPeriod", "1209601"),
                ("ReceiveMessageWaitTimeSeconds", "21"), ("MaximumMessageSize", "1023"),
                ("MaximumMessageSize", "1048577"), ("VisibilityTimeout", "ten")]


@pytest.mark.parametrize(("name", "value"), OUT_OF_RANGE)
def test_an_attribute_outside_its_range_is_refused_at_create_and_at_set(cloud, name, value):
    """moto stored any value: a queue AWS refuses worked here."""
    sqs = cloud.client("sqs")
    with pytest.raises(ClientError) as refused:
        sqs.create_queue(QueueName=unique("range"), Attributes={name: value})
    assert refused.value.response["Error"]["Code"] == "InvalidAttributeValue"
    assert refused.value.response["Error"]["Message"] == f"Invalid value for the parameter {name}."
    url = _new_queue(cloud, "range")
    with pytest.raises(ClientError) as refused:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={name: value})
    assert refused.value.response["Error"]["Code"] == "InvalidAttributeValue"


def test_the_range_ends_are_taken(cloud):
    sqs = cloud.client("sqs")
    url = sqs.create_queue(QueueName=unique("range"), Attributes={
        "VisibilityTimeout": "43200", "DelaySeconds": "900", "MessageRetentionPeriod": "60",
        "ReceiveMessageWaitTimeSeconds": "20", "MaximumMessageSize": "1048576"})["QueueUrl"]
    cloud._cleanups.append(lambda: sqs.delete_queue(QueueUrl=url))
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "0", "MessageRetentionPeriod": "1209600",
                                                       "MaximumMessageSize": "1024"})
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"] == {
        "VisibilityTimeout": "0"}


RECEIVE_OUT_OF_RANGE = [
    ("MaxNumberOfMessages", 11, "Must be between 1 and 10, if provided."),
    ("MaxNumberOfMessages", 0, "Must be between 1 and 10, if provided."),
    ("WaitTimeSeconds", 21, "Must be >= 0 and <= 20, if provided."),
    ("WaitTimeSeconds", -1, "Must be >= 0 and <= 20, if provided."),
    ("VisibilityTimeout", 43201, "Must be >= 0 and <= 43200, if provided."),
    ("VisibilityTimeout", -1, "Must be >= 0 and <= 43200, if provided."),
]


def test_a_receive_outside_its_ranges_is_refused_in_sqs_words(cloud):
    """moto prefixed its message with a second "An error occurred ...", inverted WaitTimeSeconds' range and took a
    negative VisibilityTimeout. The ends of the ranges are answered."""
    sqs = cloud.client("sqs")
    url = _new_queue(cloud, "receive")
    for name, value, reason in RECEIVE_OUT_OF_RANGE:
        with pytest.raises(ClientError) as refused:
            sqs.receive_message(QueueUrl=url, **{name: value})
        assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"
        assert refused.value.response["Error"]["Message"] == (
            f"Value {value} for parameter {name} is invalid. Reason: {reason}")
    sqs.send_message(QueueUrl=url, MessageBody="frame")
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=43200)
    assert [m["Body"] for m in received["Messages"]] == ["frame"]
    assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=0)


def test_an_empty_message_body_is_refused(cloud):
    """moto queued an empty message; SQS's minimum body is one character."""
    sqs = cloud.client("sqs")
    url = _new_queue(cloud, "empty")
    with pytest.raises(ClientError) as refused:
        sqs.send_message(QueueUrl=url, MessageBody="")
    assert refused.value.response["Error"]["Code"] == "MissingParameter"
    assert refused.value.response["Error"]["Message"] == "The request must contain the parameter MessageBody."
    with pytest.raises(ClientError) as refused:
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "frame"},
                                                      {"Id": "b", "MessageBody": ""}])
    assert refused.value.response["Error"]["Code"] == "MissingParameter"
    sqs.send_message(QueueUrl=url, MessageBody=" ")
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"] == {
        "ApproximateNumberOfMessages": "1"}


def _new_queue(cloud, prefix: str) -> str:
    sqs = cloud.client("sqs")
    url = sqs.create_queue(QueueName=unique(prefix))["QueueUrl"]
    cloud._cleanups.append(lambda: sqs.delete_queue(QueueUrl=url))
    return url
