"""Fidelity: a stack whose resource a service refuses fails and rolls back, as CloudFormation does; the CreateStack
call itself answers the stack id (emulator/aws/stack_failures.py). Plain boto3: runs against AWS too."""

import json
import time

import pytest
from botocore.exceptions import ClientError

from tests.emulator.fidelity import connected, unique

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cloud(request):
    with connected(request) as cloud:
        yield cloud


def test_a_resource_the_service_refuses_rolls_its_stack_back(cloud):
    logs, cfn, s3 = cloud.client("logs"), cloud.client("cloudformation"), cloud.client("s3")
    group, bucket, stack = f"/aws/lambda/{unique('taken')}", unique("rollback"), unique("stack")
    logs.create_log_group(logGroupName=group)
    template = {"Resources": {
        "Clips": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": bucket}},
        "Logs": {"Type": "AWS::Logs::LogGroup", "DependsOn": "Clips", "Properties": {"LogGroupName": group}}}}
    stack_id = cfn.create_stack(StackName=stack, TemplateBody=json.dumps(template))["StackId"]
    assert _settled(cloud, stack_id) == "ROLLBACK_COMPLETE"
    events = cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
    failed = [e for e in events if e["LogicalResourceId"] == "Logs" and e["ResourceStatus"] == "CREATE_FAILED"]
    assert failed and "already exists" in failed[0]["ResourceStatusReason"], events
    rolling = [e for e in events if e["ResourceStatus"] == "ROLLBACK_IN_PROGRESS"]
    assert rolling and "[Logs]" in rolling[0]["ResourceStatusReason"], events
    with pytest.raises(ClientError):  # the bucket it had made is gone with the rollback
        s3.head_bucket(Bucket=bucket)
    cfn.delete_stack(StackName=stack_id)
    logs.delete_log_group(logGroupName=group)


def _settled(cloud, stack_id: str) -> str:
    """The stack's status once it is no longer in progress (AWS rolls back in the background), or at patience's end."""
    cfn, deadline = cloud.client("cloudformation"), time.monotonic() + cloud.patience
    while True:
        status = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]
        if not status.endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            return status
        time.sleep(1)
