"""Fidelity: a stack whose resource a service refuses fails and rolls back, as CloudFormation does; the CreateStack
call itself answers the stack id (emulator/aws/stack_failures.py). Plain boto3: runs against AWS too."""

import json
import re
import time

import pytest
from botocore.exceptions import ClientError

from tests.emulator.fidelity import unique
from tests.emulator.functions import zip_files

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


def test_a_rolled_back_stack_is_described_without_the_outputs_of_its_failed_resources(cloud):
    """DescribeStacks answered 500 here: moto made the refused resource again to resolve an output naming it."""
    logs, cfn = cloud.client("logs"), cloud.client("cloudformation")
    group, stack = f"/aws/lambda/{unique('taken')}", unique("stack")
    logs.create_log_group(logGroupName=group)
    template = {**_refusing_template(unique("rollback"), group),
                "Outputs": {"Group": {"Value": {"Ref": "Logs"}}, "Clips": {"Value": {"Ref": "Clips"}}}}
    stack_id = cfn.create_stack(StackName=stack, TemplateBody=json.dumps(template))["StackId"]
    assert _settled(cloud, stack_id) == "ROLLBACK_COMPLETE"
    described = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
    assert described["StackStatus"] == "ROLLBACK_COMPLETE" and "Outputs" not in described, described
    cfn.delete_stack(StackName=stack_id)
    logs.delete_log_group(logGroupName=group)


def test_a_fifo_queue_without_a_name_gets_a_generated_fifo_name(cloud):
    cfn, sqs = cloud.client("cloudformation"), cloud.client("sqs")
    template = {"Resources": {"Results": {"Type": "AWS::SQS::Queue", "Properties": {"FifoQueue": True}}},
                "Outputs": {"Url": {"Value": {"Ref": "Results"}}}}
    stack_id = cfn.create_stack(StackName=unique("fifo"), TemplateBody=json.dumps(template))["StackId"]
    assert _settled(cloud, stack_id) == "CREATE_COMPLETE"
    url = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["Outputs"][0]["OutputValue"]
    assert url.endswith(".fifo")
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["FifoQueue"])["Attributes"]["FifoQueue"] == "true"
    cfn.delete_stack(StackName=stack_id)


def test_a_templates_layer_is_its_version_arn_to_ref_and_reaches_the_function_naming_it(cloud):
    """moto dropped a template function's Layers, named the layer by its logical id and gave Ref no ARN."""
    s3, cfn, lam = cloud.client("s3"), cloud.client("cloudformation"), cloud.client("lambda")
    bucket, layer_name = cloud.bucket(), unique("shared")
    s3.put_object(Bucket=bucket, Key="layer.zip", Body=zip_files({"python/helper.py": 'VALUE = "from the layer"\n'}))
    template = {"Resources": {
        "Shared": {"Type": "AWS::Lambda::LayerVersion", "Properties": {
            "LayerName": layer_name, "Content": {"S3Bucket": bucket, "S3Key": "layer.zip"}}},
        "Reader": {"Type": "AWS::Lambda::Function", "Properties": {
            "Runtime": "python3.11", "Handler": "index.handler", "Role": cloud.role_arn, "Layers": [{"Ref": "Shared"}],
            "Code": {"ZipFile": "import helper\ndef handler(event, context):\n    return helper.VALUE\n"}}}},
        "Outputs": {"Layer": {"Value": {"Ref": "Shared"}}, "Reader": {"Value": {"Ref": "Reader"}}}}
    stack_id = cfn.create_stack(StackName=unique("layered"), TemplateBody=json.dumps(template))["StackId"]
    assert _settled(cloud, stack_id) == "CREATE_COMPLETE"
    described = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
    assert re.fullmatch(rf"arn:aws:lambda:[a-z0-9-]+:\d{{12}}:layer:{layer_name}:\d+", outputs["Layer"]), outputs
    assert all(r.get("PhysicalResourceId") for r in cfn.describe_stack_resources(StackName=stack_id)["StackResources"])
    cloud.wait_until_active(outputs["Reader"])
    answer = lam.invoke(FunctionName=outputs["Reader"], Payload=b"{}")
    assert "FunctionError" not in answer and json.loads(answer["Payload"].read()) == "from the layer"
    cfn.delete_stack(StackName=stack_id)



def _refusing_template(bucket: str, group: str) -> dict:
    """A bucket, then a log group that already exists (its service refuses it)."""
    return {"Resources": {
        "Clips": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": bucket}},
        "Logs": {"Type": "AWS::Logs::LogGroup", "DependsOn": "Clips", "Properties": {"LogGroupName": group}}}}


def _executed(cloud, stack: str, template: dict, change_set_type: str) -> str:
    """Creates a change set of the template, waits for it, executes it (as `sam deploy` does); the stack id."""
    cfn = cloud.client("cloudformation")
    made = cfn.create_change_set(StackName=stack, ChangeSetName=unique("deploy"), ChangeSetType=change_set_type,
                                 TemplateBody=json.dumps(template))
    cfn.get_waiter("change_set_create_complete").wait(ChangeSetName=made["Id"], WaiterConfig={"Delay": 1})
    cfn.execute_change_set(ChangeSetName=made["Id"])
    return str(made["StackId"])


def test_a_refused_resource_in_a_create_change_set_rolls_the_new_stack_back(cloud):
    """`sam deploy`'s first deploy: ExecuteChangeSet answers, the stack goes ROLLBACK_COMPLETE
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-changesets-execute.html)."""
    logs, cfn, s3 = cloud.client("logs"), cloud.client("cloudformation"), cloud.client("s3")
    group, bucket = f"/aws/lambda/{unique('taken')}", unique("rollback")
    logs.create_log_group(logGroupName=group)
    stack_id = _executed(cloud, unique("stack"), _refusing_template(bucket, group), "CREATE")
    assert _settled(cloud, stack_id) == "ROLLBACK_COMPLETE"
    events = cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
    assert any(e["LogicalResourceId"] == "Logs" and e["ResourceStatus"] == "CREATE_FAILED" for e in events), events
    with pytest.raises(ClientError):
        s3.head_bucket(Bucket=bucket)
    cfn.delete_stack(StackName=stack_id)
    logs.delete_log_group(logGroupName=group)


@pytest.mark.parametrize("how", ["update_stack", "change_set"])
def test_a_refused_resource_in_an_update_rolls_the_stack_back_to_its_template(cloud, how):
    """UPDATE_ROLLBACK_COMPLETE: what the update added is deleted, what it removed is made again, the stack keeps its
    previous template (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks.html)."""
    logs, cfn, s3 = cloud.client("logs"), cloud.client("cloudformation"), cloud.client("s3")
    group, kept, added = f"/aws/lambda/{unique('taken')}", unique("kept"), unique("added")
    first = {"Resources": {"Kept": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": kept}}}}
    stack = unique("stack")
    stack_id = cfn.create_stack(StackName=stack, TemplateBody=json.dumps(first))["StackId"]
    assert _settled(cloud, stack_id) == "CREATE_COMPLETE"
    logs.create_log_group(logGroupName=group)
    second = _refusing_template(added, group)  # Kept removed, Clips added, Logs refused
    if how == "update_stack":
        cfn.update_stack(StackName=stack, TemplateBody=json.dumps(second))
    else:
        _executed(cloud, stack, second, "UPDATE")
    assert _settled(cloud, stack_id) == "UPDATE_ROLLBACK_COMPLETE"
    events = cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
    assert any(e["LogicalResourceId"] == "Logs" and e["ResourceStatus"] == "CREATE_FAILED" for e in events), events
    s3.head_bucket(Bucket=kept)  # there again
    with pytest.raises(ClientError):
        s3.head_bucket(Bucket=added)
    body = cfn.get_template(StackName=stack_id)["TemplateBody"]  # boto3 reads a JSON body into a dict
    assert (json.loads(body) if isinstance(body, str) else body) == first
    resources = cfn.describe_stack_resources(StackName=stack_id)["StackResources"]
    assert [r["LogicalResourceId"] for r in resources] == ["Kept"]
    cfn.delete_stack(StackName=stack_id)
    logs.delete_log_group(logGroupName=group)


def test_a_bucket_with_notifications_that_overlap_rolls_its_stack_back(cloud):
    """S3 refuses the bucket's two overlapping notification configurations (InvalidArgument, see
    test_fidelity_s3.py), so the stack fails and no bucket is left behind."""
    cfn, s3, bucket = cloud.client("cloudformation"), cloud.client("s3"), unique("overlap")
    account = cloud.client("sts").get_caller_identity()["Account"]
    function = f"arn:aws:lambda:{cfn.meta.region_name}:{account}:function:{unique('nothing')}"
    on_clips = {"Event": "s3:ObjectCreated:*", "Function": function,
                "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": "clips/"}]}}}
    on_all = {"Event": "s3:ObjectCreated:Put", "Function": function}
    template = {"Resources": {"Clips": {"Type": "AWS::S3::Bucket", "Properties": {
        "BucketName": bucket, "NotificationConfiguration": {"LambdaConfigurations": [on_clips, on_all]}}}}}
    stack_id = cfn.create_stack(StackName=unique("stack"), TemplateBody=json.dumps(template))["StackId"]
    assert _settled(cloud, stack_id) == "ROLLBACK_COMPLETE"
    with pytest.raises(ClientError):
        s3.head_bucket(Bucket=bucket)
    cfn.delete_stack(StackName=stack_id)


def _settled(cloud, stack_id: str) -> str:
    """The stack's status once it is no longer in progress (AWS rolls back in the background), or at patience's end."""
    cfn, deadline = cloud.client("cloudformation"), time.monotonic() + cloud.patience
    while True:
        status = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]
        if not status.endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            return status
        time.sleep(0.2)


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
        time.sleep(0.2)
    assert any("module init" in line for line in lines), lines  # the INIT lines, shipped with the invocation's
