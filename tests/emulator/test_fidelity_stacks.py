"""Fidelity: a stack whose resource a service refuses fails and rolls back, as CloudFormation does; the CreateStack
call itself answers the stack id (emulator/aws/stack_failures.py). Plain boto3: runs against AWS too."""

import json
import time

import pytest
from botocore.exceptions import ClientError

from tests.emulator.fidelity import unique

pytestmark = pytest.mark.integration


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


def test_a_functions_log_group_can_be_made_after_the_function_as_templates_make_it(cloud):
    """Lambda makes /aws/lambda/<name> at the first invocation; a template's own LogGroup for the function is created
    after the function (it names it), so it must find no group there, however soon the function was ready."""
    function = cloud.function("print('module init')\n\ndef lambda_handler(event, context):\n    return event\n")
    group, logs = f"/aws/lambda/{function.split(':')[6]}", cloud.client("logs")
    time.sleep(2)  # an environment made ahead of the first invocation has logged its INIT by now
    assert not logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    logs.create_log_group(logGroupName=group)  # what the template's AWS::Logs::LogGroup does
    cloud.client("lambda").invoke(FunctionName=function, Payload=b"{}")
    deadline = time.monotonic() + cloud.patience
    while not (lines := [e["message"] for e in logs.filter_log_events(logGroupName=group)["events"]]) \
            or not any(line.startswith("REPORT") for line in lines):
        assert time.monotonic() < deadline, lines
        time.sleep(0.5)
    assert any("module init" in line for line in lines), lines  # the INIT lines, shipped with the invocation's
