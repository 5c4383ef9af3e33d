"""Issue 22: a function's role decides what it may do. Each function runs with its role session's keys; a call
its policies do not allow is reported in its own log (EMULATOR_IAM=warn, the default) or refused with AWS's
AccessDenied (enforce). Plain boto3; the enforce tests run against an emulator started with EMULATOR_IAM=enforce."""

import html
import json
import subprocess
import sys
import time
import urllib.request

import boto3
import pytest

from emulator.config import DEFAULT_ACCOUNT
from tests.conftest import ROOT, start_emulator
from tests.emulator.conftest import log_messages, receive_all
from tests.emulator.fidelity import (
    _EMBEDDED_PATIENCE_SECONDS,
    REGION,
    Cloud,
    emulator_only,
    http_call,
    unique,
)
from tests.emulator.test_fidelity_front_doors import HANDLER as FRONT_DOOR_HANDLER
from tests.emulator.test_fidelity_sns import REPORTING_SLEEPER, permit_sns, sns_denial

pytestmark = pytest.mark.integration

BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
WRITER = """
import os, boto3
def lambda_handler(event, context):
    boto3.client("s3").put_object(Bucket=event["bucket"], Key=event["key"], Body=b"frame")
    return {"session_token": bool(os.environ.get("AWS_SESSION_TOKEN")),
            "caller": boto3.client("sts").get_caller_identity()["Arn"]}
"""


@pytest.fixture(scope="module")
def enforcing(tmp_path_factory):
    running = start_emulator(tmp_path_factory.mktemp("iam-enforce"), "--no-stack", env={"EMULATOR_IAM": "enforce"})
    cloud = Cloud(running.endpoint, {"aws_access_key_id": "local-emulator-dummy-key",
                                     "aws_secret_access_key": "local-emulator-dummy-secret"}, "",
                  _EMBEDDED_PATIENCE_SECONDS)
    yield cloud
    cloud.close()
    running.stop()


def writer(cloud, *policy_arns, inline=None, source=WRITER):
    """A function running `source` whose role has these managed policies (and an inline one): (name, role ARN)."""
    iam = cloud.client("iam")
    role = cloud.role()
    for arn in policy_arns:
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    if inline is not None:
        iam.put_role_policy(RoleName=role, PolicyName="inline", PolicyDocument=json.dumps(inline))
        cloud._cleanups.append(lambda: iam.delete_role_policy(RoleName=role, PolicyName="inline"))
    role_arn = iam.get_role(RoleName=role)["Role"]["Arn"]
    return cloud.function(source, Role=role_arn).split(":")[6], role_arn


def console_panels(emulator):
    with urllib.request.urlopen(f"{emulator.endpoint}/_console/panels", timeout=30) as response:  # loopback
        return response.read().decode()


def invoke(cloud, function, event):
    response = cloud.client("lambda").invoke(FunctionName=function, Payload=json.dumps(event))
    return response.get("FunctionError"), json.loads(response["Payload"].read())


def denied_put(role_arn, function, bucket, key, reason=None):
    role = role_arn.split("/")[-1]
    reason = reason or "because no identity-based policy allows the s3:PutObject action"
    return (f"User: arn:aws:sts::{role_arn.split(':')[4]}:assumed-role/{role}/{function} is not authorized to "
            f"perform: s3:PutObject on resource: arn:aws:s3:::{bucket}/{key} {reason}")


@emulator_only
def test_a_function_lacking_put_object_works_in_warn_mode_and_its_log_says_what_aws_would_deny(cloud, emulator):
    bucket = cloud.bucket()
    function, role_arn = writer(cloud, BASIC_EXECUTION)
    error, result = invoke(cloud, function, {"bucket": bucket, "key": "frames/a.png"})
    assert error is None, result
    assert result == {"session_token": True, "caller": f"arn:aws:sts::{role_arn.split(':')[4]}:assumed-role/"
                                                         f"{role_arn.split('/')[-1]}/{function}"}
    assert cloud.client("s3").get_object(Bucket=bucket, Key="frames/a.png")["Body"].read() == b"frame"
    expected = "IAM: " + denied_put(role_arn, function, bucket, "frames/a.png")
    assert expected in log_messages(emulator, function, until=expected)


@emulator_only
def test_the_console_lists_each_functions_denied_calls(cloud, emulator):
    bucket = cloud.bucket()
    function, role_arn = writer(cloud, BASIC_EXECUTION)
    for _ in range(2):
        assert invoke(cloud, function, {"bucket": bucket, "key": "frames/a.png"})[0] is None
    expected = f"IAM: {denied_put(role_arn, function, bucket, 'frames/a.png')} (×2)"
    deadline = time.monotonic() + 30
    while expected not in (panels := html.unescape(console_panels(emulator))):
        assert time.monotonic() < deadline, panels[-3000:]
        time.sleep(0.5)
    assert f"{function}: calls its role may not make on AWS" in panels


@emulator_only
def test_the_policy_command_prints_what_the_function_used(cloud, emulator):
    bucket = cloud.bucket()
    function, _ = writer(cloud, BASIC_EXECUTION)
    for key in ("frames/a.png", "frames/b.png"):
        assert invoke(cloud, function, {"bucket": bucket, "key": key})[0] is None
    printed = subprocess.run([sys.executable, "-m", "emulator", "policy", function], cwd=ROOT, check=True,
                             capture_output=True, text=True, env=emulator.env() | {
                                 "EMULATOR_STATE_DIR": str(emulator.state_dir)}).stdout
    group = f"arn:aws:logs:{REGION}:{DEFAULT_ACCOUNT}:log-group:/aws/lambda/{function}:*"
    assert json.loads(printed)["Statement"] == [
        {"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": [group]},
        {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": [f"arn:aws:s3:::{bucket}/frames/*"]}]


def test_enforce_refuses_a_call_the_role_does_not_allow_with_aws_access_denied(enforcing):
    bucket = enforcing.bucket()
    function, role_arn = writer(enforcing, BASIC_EXECUTION)
    error, result = invoke(enforcing, function, {"bucket": bucket, "key": "frames/a.png"})
    assert error == "Unhandled"
    assert "AccessDenied" in result["errorMessage"]
    assert denied_put(role_arn, function, bucket, "frames/a.png") in result["errorMessage"]


def test_an_explicit_deny_wins_over_an_allow(enforcing):
    bucket = enforcing.bucket()
    deny = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}
    function, role_arn = writer(enforcing, "arn:aws:iam::aws:policy/AmazonS3FullAccess", inline=deny)
    error, result = invoke(enforcing, function, {"bucket": bucket, "key": "frames/a.png"})
    assert error == "Unhandled"
    assert denied_put(role_arn, function, bucket, "frames/a.png",
                      "with an explicit deny in an identity-based policy") in result["errorMessage"]


def test_a_bucket_policy_grants_what_the_role_lacks(enforcing):
    bucket = enforcing.bucket()
    function, role_arn = writer(enforcing, BASIC_EXECUTION)
    enforcing.client("s3").put_bucket_policy(Bucket=bucket, Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": role_arn},
                                                "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    error, result = invoke(enforcing, function, {"bucket": bucket, "key": "frames/a.png"})
    assert error is None, result


def test_a_pi_user_limited_to_videos_uploads_there_and_nowhere_else(enforcing):
    bucket = enforcing.bucket()
    iam = enforcing.client("iam")
    user = unique("pi")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="upload-videos", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:PutObject",
                                                "Resource": f"arn:aws:s3:::{bucket}/videos/*"}]}))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    pi = boto3.client("s3", endpoint_url=enforcing.endpoint_url, region_name=REGION,
                      aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    pi.put_object(Bucket=bucket, Key="videos/pi-1/clip.mp4", Body=b"clip")
    with pytest.raises(pi.exceptions.ClientError) as refused:
        pi.put_object(Bucket=bucket, Key="frames/pi-1/0.png", Body=b"frame")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert refused.value.response["Error"]["Message"] == (
        f"User: arn:aws:iam::123456789012:user/{user} is not authorized to perform: s3:PutObject on resource: "
        f"arn:aws:s3:::{bucket}/frames/pi-1/0.png because no identity-based policy allows the s3:PutObject action")


def test_a_batch_send_needs_only_sqs_send_message(enforcing):
    url, arn = enforcing.queue()
    sender = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": arn}]}
    source = ("import boto3\ndef lambda_handler(event, context):\n"
              "    return boto3.client('sqs').send_message_batch(QueueUrl=event['url'], Entries=[\n"
              "        {'Id': '1', 'MessageBody': 'a'}])['Successful'][0]['Id']\n")
    function, _ = writer(enforcing, inline=sender, source=source)
    assert invoke(enforcing, function, {"url": url}) == (None, "1")


def test_a_session_key_with_another_sessions_token_is_refused(enforcing):
    iam, sts = enforcing.client("iam"), enforcing.client("sts")
    role = enforcing.role()
    role_arn = iam.get_role(RoleName=role)["Role"]["Arn"]
    first = sts.assume_role(RoleArn=role_arn, RoleSessionName="first")["Credentials"]
    second = sts.assume_role(RoleArn=role_arn, RoleSessionName="second")["Credentials"]
    mixed = boto3.client("sqs", endpoint_url=enforcing.endpoint_url, region_name=REGION,
                         aws_access_key_id=first["AccessKeyId"], aws_secret_access_key=first["SecretAccessKey"],
                         aws_session_token=second["SessionToken"])
    with pytest.raises(mixed.exceptions.ClientError) as refused:
        mixed.list_queues()
    assert refused.value.response["Error"]["Code"] == "InvalidClientTokenId"


def test_sns_does_not_deliver_to_a_function_whose_resource_policy_does_not_let_it(enforcing):
    """As on AWS: SNS may invoke the function only once its resource policy names SNS and the topic."""
    report_url, report_arn = enforcing.queue()
    iam, role = enforcing.client("iam"), enforcing.role()
    iam.put_role_policy(RoleName=role, PolicyName="report", PolicyDocument=json.dumps({"Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": report_arn}]}))
    enforcing._cleanups.append(lambda: iam.delete_role_policy(RoleName=role, PolicyName="report"))
    function_arn = enforcing.function(REPORTING_SLEEPER, env={"REPORT_QUEUE_URL": report_url},
                                      Role=iam.get_role(RoleName=role)["Role"]["Arn"])
    sns = enforcing.client("sns")
    topic = sns.create_topic(Name=unique("refused"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function_arn)
    sns.publish(TopicArn=topic, Message="refused")
    expected = sns_denial(function_arn, topic)
    logs, deadline = enforcing.client("logs"), time.monotonic() + 30
    while not any(e["message"].startswith(expected) for e in logs.filter_log_events(
            logGroupName=f"/aws/lambda/{function_arn.split(':')[6]}", filterPattern='"IAM:"')["events"]):
        assert time.monotonic() < deadline, "no IAM: line for the refused delivery"
        time.sleep(0.2)
    permit_sns(enforcing, function_arn, topic)
    sns.publish(TopicArn=topic, Message="permitted")
    received = receive_all(enforcing.client("sqs"), report_url, expected=1, timeout=30)
    received += receive_all(enforcing.client("sqs"), report_url, expected=1, timeout=1)
    assert [json.loads(m["Body"])["Records"][0]["Sns"]["Message"] for m in received] == ["permitted"]


def test_a_function_url_answers_forbidden_until_its_policy_lets_anyone_invoke_it(enforcing):
    """AuthType NONE needs a resource-based statement for principal * (lambda:FunctionUrlAuthType NONE):
    https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"""
    function, _ = writer(enforcing, source=FRONT_DOOR_HANDLER)
    lam = enforcing.client("lambda")
    url = lam.create_function_url_config(FunctionName=function, AuthType="NONE")["FunctionUrl"]
    status, _, body = http_call(enforcing, url.rstrip("/") + "/plain")
    assert (status, json.loads(body)) == (403, {"Message": "Forbidden"})
    lam.add_permission(FunctionName=function, StatementId="url", Action="lambda:InvokeFunctionUrl", Principal="*",
                       FunctionUrlAuthType="NONE")
    status, _, body = http_call(enforcing, url.rstrip("/") + "/plain")
    assert (status, json.loads(body)) == (200, {"plain": True})


def test_a_rest_api_answers_internal_server_error_until_the_function_lets_api_gateway_invoke_it(enforcing):
    function, _ = writer(enforcing, source=FRONT_DOOR_HANDLER)
    function_arn = enforcing.client("lambda").get_function(FunctionName=function)["Configuration"]["FunctionArn"]
    api_id = enforcing.proxy_rest_api(function_arn, "echo", "GET")
    url = f"{enforcing.endpoint_url}/restapis/{api_id}/prod/_user_request_/echo"
    status, _, body = http_call(enforcing, url)
    assert (status, json.loads(body)) == (500, {"message": "Internal server error"})
    enforcing.client("lambda").add_permission(
        FunctionName=function, StatementId="api", Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:{REGION}:{DEFAULT_ACCOUNT}:{api_id}/*/GET/echo")
    status, _, body = http_call(enforcing, url)
    assert (status, json.loads(body)["path"]) == (201, "/echo")
