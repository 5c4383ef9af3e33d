"""Fidelity, issue 12 items 6 and 7: one event per multipart upload; S3 event records in AWS's full shape."""

import json
from pathlib import Path

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from tests.emulator.conftest import receive_all
from tests.emulator.functions import HANDLERS

pytestmark = pytest.mark.integration

REFERENCE_EVENT = Path(__file__).resolve().parent.parent / "events" / "s3-object-created-put.json"
MULTIPART = TransferConfig()  # boto3's defaults: multipart from 8 MB, as a student's upload_file uses them


@pytest.fixture
def reported(cloud):
    """A bucket whose ObjectCreated events run a function that forwards each event to a queue: (bucket, receive)."""

    def setup(versioned=False):
        url, _ = cloud.queue()
        function = cloud.function(HANDLERS["report"], env={"REPORT_QUEUE_URL": url})
        bucket = cloud.bucket(versioned=versioned)
        cloud.notify(bucket, function)
        sqs = cloud.client("sqs")
        return bucket, lambda expected, timeout=cloud.patience: [
            json.loads(m["Body"]) for m in receive_all(sqs, url, expected=expected, timeout=timeout)]

    return setup


def test_a_multipart_upload_fires_only_complete_multipart_upload(cloud, reported, tmp_path):
    bucket, receive = reported()
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\0" * (MULTIPART.multipart_threshold + 1024 * 1024))
    cloud.client("s3").upload_file(str(clip), bucket, "videos/big.mp4", Config=MULTIPART)
    events = receive(expected=2, timeout=5.0)
    assert [e["Records"][0]["eventName"] for e in events] == ["ObjectCreated:CompleteMultipartUpload"]


def test_s3_event_records_have_the_shape_aws_sends(cloud, reported):
    bucket, receive = reported(versioned=True)
    cloud.client("s3").put_object(Bucket=bucket, Key="videos/dev 1/x.mp4", Body=b"clip")
    [event] = receive(expected=1)
    reference = json.loads(REFERENCE_EVENT.read_text())
    assert _shape(event) == _shape(reference)
    record = event["Records"][0]
    assert record["eventVersion"] == "2.1" and record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["object"]["key"] == "videos/dev+1/x.mp4"
    assert record["s3"]["configurationId"] == "fidelity"


def _shape(value):
    """The keys of a JSON value, recursively, with each leaf's type (an event's shape, not its contents)."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(item) for item in value]
    return type(value).__name__


def test_a_notification_to_a_function_s3_may_not_invoke_is_refused(cloud):
    bucket = cloud.bucket()
    function = cloud.function(HANDLERS["echo"])
    s3 = cloud.client("s3")
    config = {"LambdaFunctionConfigurations": [{"LambdaFunctionArn": function, "Events": ["s3:ObjectCreated:*"]}]}
    with pytest.raises(ClientError) as caught:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
    assert caught.value.response["Error"]["Code"] == "InvalidArgument"
    assert s3.get_bucket_notification_configuration(Bucket=bucket).get("LambdaFunctionConfigurations") is None
    cloud.client("lambda").add_permission(
        FunctionName=function, StatementId="s3-other", Action="lambda:InvokeFunction", Principal="s3.amazonaws.com",
        SourceArn="arn:aws:s3:::some-other-bucket")
    with pytest.raises(ClientError):  # a permission for another bucket does not count
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
    cloud.notify(bucket, function)  # adds the permission for this bucket, then configures
    assert len(s3.get_bucket_notification_configuration(Bucket=bucket)["LambdaFunctionConfigurations"]) == 1


def test_a_notification_to_a_queue_whose_policy_does_not_let_s3_send_is_refused(cloud):
    bucket = cloud.bucket()
    sqs = cloud.client("sqs")
    url = sqs.create_queue(QueueName=f"{bucket}-events")["QueueUrl"]
    cloud._cleanups.append(lambda: sqs.delete_queue(QueueUrl=url))
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    config = {"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]}
    with pytest.raises(ClientError) as caught:
        cloud.client("s3").put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
    assert caught.value.response["Error"]["Code"] == "InvalidArgument"
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sqs:SendMessage", "Resource": arn,
        "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"}}}]}
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    cloud.client("s3").put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)


def test_a_quiet_delete_objects_answers_only_what_it_could_not_delete(cloud):
    s3, bucket = cloud.client("s3"), cloud.bucket()
    for key in ("quiet/a", "quiet/b", "verbose/c"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"clip")
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "quiet/a"}, {"Key": "quiet/b"}],
                                                     "Quiet": True})
    assert "Deleted" not in quiet and "Errors" not in quiet, quiet
    verbose = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "verbose/c"}]})
    assert [d["Key"] for d in verbose["Deleted"]] == ["verbose/c"]
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_notifications_that_could_both_match_one_event_of_one_key_are_refused(cloud):
    """"Overlapping prefixes and suffixes are not supported" for one event type, whatever the destinations
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-filtering.html): InvalidArgument."""
    bucket = cloud.bucket()
    first, second = cloud.function(HANDLERS["echo"]), cloud.function(HANDLERS["echo"])
    for function in (first, second):
        cloud.client("lambda").add_permission(
            FunctionName=function, StatementId="s3", Action="lambda:InvokeFunction", Principal="s3.amazonaws.com",
            SourceArn=f"arn:aws:s3:::{bucket}")
    s3 = cloud.client("s3")

    def configure(*rules: tuple[str, str, str]) -> None:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
            "LambdaFunctionConfigurations": [_on(function, *rule)
                                             for function, rule in zip((first, second), rules, strict=True)]})

    ambiguous = [(("s3:ObjectCreated:*", "clips/", ".mp4"), ("s3:ObjectCreated:Put", "", "")),
                 (("s3:ObjectCreated:Put", "clips/", ".mp4"), ("s3:ObjectCreated:Put", "clips/door/", "4"))]
    for rules in ambiguous:
        with pytest.raises(ClientError) as caught:
            configure(*rules)
        assert caught.value.response["Error"]["Code"] == "InvalidArgument", rules
        assert "ambiguously defined" in caught.value.response["Error"]["Message"]
    distinct = [(("s3:ObjectCreated:*", "clips/", ".mp4"), ("s3:ObjectCreated:*", "clips/", ".jpg")),
                (("s3:ObjectCreated:*", "clips/", ".mp4"), ("s3:ObjectCreated:*", "frames/", ".mp4")),
                (("s3:ObjectCreated:*", "clips/", ".mp4"), ("s3:ObjectRemoved:*", "clips/", ".mp4"))]
    for rules in distinct:
        configure(*rules)
        assert len(s3.get_bucket_notification_configuration(Bucket=bucket)["LambdaFunctionConfigurations"]) == 2


def _on(function: str, event: str, prefix: str, suffix: str) -> dict:
    """A function's notification configuration for one event, filtered by key prefix and suffix ("": no rule)."""
    filters = [{"Name": name, "Value": value} for name, value in (("prefix", prefix), ("suffix", suffix)) if value]
    return {"LambdaFunctionArn": function, "Events": [event], **({"Filter": {"Key": {"FilterRules": filters}}}
                                                                 if filters else {})}


@pytest.mark.parametrize("name", ["MyBucket", "cse546_input", "-input", "input-", "in..put", "192.168.5.4",
                                  "xn--input", "input-s3alias", "a" * 64, "ab"])
def test_a_bucket_name_s3_refuses_is_refused_here(cloud, name):
    """moto checked only the length: `MyBucket` or `cse546_input` worked here and failed on AWS."""
    with pytest.raises(ClientError) as refused:
        cloud.client("s3").create_bucket(Bucket=name)
    assert refused.value.response["Error"]["Code"] == "InvalidBucketName"


def test_a_bucket_name_within_the_rules_is_taken(cloud):
    s3, name = cloud.client("s3"), f"cse546.{'a' * 40}-0"
    s3.create_bucket(Bucket=name)
    s3.delete_bucket(Bucket=name)
