"""Issue 23 item 2: one emulator, many accounts. A request signed with a 12-digit access key id is that account's
(LocalStack's convention); the emulator's dummy keys are the default account. Plain boto3."""

import json
import urllib.request
from types import SimpleNamespace

import boto3
import pytest

from emulator.config import DEFAULT_ACCOUNT
from tests.emulator.conftest import TRUST
from tests.emulator.fidelity import REGION, advance_clock, emulator_only, unique
from tests.emulator.functions import zip_handler

pytestmark = [pytest.mark.integration, emulator_only]

ALICE, BOB = "111111111111", "222222222222"
OWNER = "import os\n\ndef lambda_handler(event, context):\n    return os.environ['OWNER']\n"


def account(emulator, account_id):
    def client(service):
        return boto3.client(service, endpoint_url=emulator.endpoint, region_name=REGION,
                            aws_access_key_id=account_id, aws_secret_access_key="any-secret")
    return client


def test_each_key_is_its_own_account_and_the_dummy_keys_the_default(emulator):
    assert account(emulator, ALICE)("sts").get_caller_identity()["Account"] == ALICE
    assert emulator.client("sts").get_caller_identity()["Account"] == DEFAULT_ACCOUNT


def test_two_accounts_keep_queues_of_the_same_name_apart(emulator):
    name = unique("shared")
    alice, bob = account(emulator, ALICE)("sqs"), account(emulator, BOB)("sqs")
    alice_url = alice.create_queue(QueueName=name)["QueueUrl"]
    bob_url = bob.create_queue(QueueName=name)["QueueUrl"]
    assert ALICE in alice_url and BOB in bob_url
    alice.send_message(QueueUrl=alice_url, MessageBody="for alice")
    assert "Messages" not in bob.receive_message(QueueUrl=bob_url, WaitTimeSeconds=0)
    assert name not in " ".join(emulator.client("sqs").list_queues(QueueNamePrefix=name).get("QueueUrls", []))


def test_an_account_does_not_list_another_accounts_buckets(emulator):
    alice, bob = account(emulator, ALICE)("s3"), account(emulator, BOB)("s3")
    bucket = unique("alice")  # bucket names are global on AWS: another account gets BucketAlreadyExists
    alice.create_bucket(Bucket=bucket)
    assert bucket in {b["Name"] for b in alice.list_buckets()["Buckets"]}
    assert bucket not in {b["Name"] for b in bob.list_buckets()["Buckets"]}
    assert bucket not in {b["Name"] for b in emulator.client("s3").list_buckets()["Buckets"]}


def test_two_accounts_keep_functions_of_the_same_name_apart(emulator):
    name = unique("shared")
    arns = {}
    for account_id in (ALICE, BOB):
        client = account(emulator, account_id)
        role = client("iam").create_role(RoleName=unique("role"), AssumeRolePolicyDocument=json.dumps(TRUST))
        arns[account_id] = client("lambda").create_function(
            FunctionName=name, Runtime="python3.11", Handler="app.lambda_handler", Role=role["Role"]["Arn"],
            Code={"ZipFile": zip_handler(OWNER)},
            Environment={"Variables": {"OWNER": account_id}})["FunctionArn"]
    assert arns[ALICE].split(":")[4] == ALICE and arns[BOB].split(":")[4] == BOB
    bob = account(emulator, BOB)("lambda")
    assert bob.get_function(FunctionName=name)["Configuration"]["Environment"]["Variables"]["OWNER"] == BOB
    for account_id in (BOB, ALICE, BOB):
        payload = account(emulator, account_id)("lambda").invoke(FunctionName=name)["Payload"].read()
        assert json.loads(payload) == account_id
    default = emulator.client("lambda")
    with pytest.raises(default.exceptions.ResourceNotFoundException):
        default.get_function(FunctionName=name)


def test_another_accounts_bucket_is_refused_unless_its_policy_grants_the_account(emulator):
    bucket = unique("alice-private")
    alice, bob = account(emulator, ALICE)("s3"), account(emulator, BOB)("s3")
    alice.create_bucket(Bucket=bucket)
    alice.put_object(Bucket=bucket, Key="grades.csv", Body=b"secret")
    for read in (lambda: bob.list_objects_v2(Bucket=bucket), lambda: bob.get_object(Bucket=bucket, Key="grades.csv")):
        with pytest.raises(bob.exceptions.ClientError) as refused:
            read()
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
    grant = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{BOB}:root"}, "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*"}]}
    alice.put_bucket_policy(Bucket=bucket, Policy=json.dumps(grant))
    assert bob.get_object(Bucket=bucket, Key="grades.csv")["Body"].read() == b"secret"



def test_a_bucket_name_another_account_holds_is_taken_as_on_s3(emulator):
    bucket = unique("same-name")
    alice, bob = account(emulator, ALICE)("s3"), account(emulator, BOB)("s3")
    alice.create_bucket(Bucket=bucket)
    with pytest.raises(bob.exceptions.BucketAlreadyExists):
        bob.create_bucket(Bucket=bucket)


def test_an_sqs_trigger_in_another_account_invokes_that_accounts_function(emulator):
    """Class grading: each submission's SQS trigger lives in its own account and must be polled there."""
    alice = account(emulator, ALICE)
    sqs = alice("sqs")
    source = sqs.create_queue(QueueName=unique("alice-in"))["QueueUrl"]
    results = sqs.create_queue(QueueName=unique("alice-out"))["QueueUrl"]
    source_arn = sqs.get_queue_attributes(QueueUrl=source, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    role = alice("iam").create_role(RoleName=unique("role"), AssumeRolePolicyDocument=json.dumps(TRUST))
    forward = ("import boto3, os\n\ndef lambda_handler(event, context):\n"
               "    for record in event['Records']:\n"
               "        boto3.client('sqs').send_message(QueueUrl=os.environ['OUT'], MessageBody=record['body'])\n")
    function = alice("lambda").create_function(
        FunctionName=unique("forward"), Runtime="python3.11", Handler="app.lambda_handler",
        Role=role["Role"]["Arn"], Code={"ZipFile": zip_handler(forward)}, Environment={"Variables": {"OUT": results}})
    alice("lambda").create_event_source_mapping(EventSourceArn=source_arn, FunctionName=function["FunctionArn"],
                                                BatchSize=1)
    sqs.send_message(QueueUrl=source, MessageBody="for alice's function")

    received = sqs.receive_message(QueueUrl=results, WaitTimeSeconds=20).get("Messages", [])
    if not received:
        received = sqs.receive_message(QueueUrl=results, WaitTimeSeconds=20).get("Messages", [])
    assert [m["Body"] for m in received] == ["for alice's function"]


def test_a_scheduled_rule_in_another_account_fires_to_that_accounts_queue(emulator):
    alice = account(emulator, ALICE)
    sqs, events = alice("sqs"), alice("events")
    url = sqs.create_queue(QueueName=unique("alice-ticks"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    name = unique("alice-tick")
    rule_arn = events.put_rule(Name=name, ScheduleExpression="rate(1 minute)")["RuleArn"]
    events.put_targets(Rule=name, Targets=[{"Id": "q", "Arn": queue_arn}])
    try:
        advance_clock(SimpleNamespace(endpoint_url=emulator.endpoint), 61)
        received = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10).get("Messages", [])
    finally:
        events.remove_targets(Rule=name, Ids=["q"])
        events.delete_rule(Name=name)
    assert [json.loads(m["Body"])["resources"] for m in received] == [[rule_arn]]


def test_a_rest_api_in_another_account_answers_at_its_front_door(emulator):
    alice = account(emulator, ALICE)
    role = alice("iam").create_role(RoleName=unique("role"), AssumeRolePolicyDocument=json.dumps(TRUST))
    answer = ("import json, os\n\ndef lambda_handler(event, context):\n"
              "    return {'statusCode': 200, 'body': json.dumps({'owner': os.environ['OWNER']})}\n")
    function_arn = alice("lambda").create_function(
        FunctionName=unique("door"), Runtime="python3.11", Handler="app.lambda_handler", Role=role["Role"]["Arn"],
        Code={"ZipFile": zip_handler(answer)}, Environment={"Variables": {"OWNER": ALICE}})["FunctionArn"]
    alice("lambda").add_permission(FunctionName=function_arn, StatementId="apigateway",
                                   Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com")
    apigateway = alice("apigateway")
    api_id = apigateway.create_rest_api(name=unique("alice-api"))["id"]
    root = next(r["id"] for r in apigateway.get_resources(restApiId=api_id)["items"] if r["path"] == "/")
    resource = apigateway.create_resource(restApiId=api_id, parentId=root, pathPart="hello")["id"]
    apigateway.put_method(restApiId=api_id, resourceId=resource, httpMethod="GET", authorizationType="NONE")
    apigateway.put_integration(
        restApiId=api_id, resourceId=resource, httpMethod="GET", type="AWS_PROXY", integrationHttpMethod="POST",
        uri=f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{function_arn}/invocations")
    apigateway.create_deployment(restApiId=api_id, stageName="prod")

    url = f"{emulator.endpoint}/restapis/{api_id}/prod/_user_request_/hello"
    with urllib.request.urlopen(url, timeout=60) as response:
        assert (response.status, json.loads(response.read())) == (200, {"owner": ALICE})


def test_an_async_invocations_destination_in_another_account_gets_its_record(emulator):
    alice = account(emulator, ALICE)
    sqs, sns = alice("sqs"), alice("sns")
    url = sqs.create_queue(QueueName=unique("alice-records"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic_arn = sns.create_topic(Name=unique("alice-done"))["TopicArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    role = alice("iam").create_role(RoleName=unique("role"), AssumeRolePolicyDocument=json.dumps(TRUST))
    name = alice("lambda").create_function(
        FunctionName=unique("done"), Runtime="python3.11", Handler="app.lambda_handler", Role=role["Role"]["Arn"],
        Code={"ZipFile": zip_handler(OWNER)}, Environment={"Variables": {"OWNER": ALICE}})["FunctionName"]
    alice("lambda").put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": topic_arn}})

    alice("lambda").invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")

    received = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20).get("Messages", [])
    if not received:
        received = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20).get("Messages", [])
    assert [json.loads(m["Body"])["responsePayload"] for m in received] == [ALICE]
