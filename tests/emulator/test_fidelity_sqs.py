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
    url = sqs.create_queue(QueueName=unique("range"))["QueueUrl"]
    cloud._cleanups.append(lambda: sqs.delete_queue(QueueUrl=url))
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
