"""Fidelity, issue 26: Step Functions executions whose Task states call Lambda (a function ARN as the Resource, and
`arn:aws:states:::lambda:invoke`), with Choice, Pass, Wait, Map, Retry/Catch, Fail and the input/output paths; the
execution ends SUCCEEDED or FAILED with the history AWS writes. Plain boto3: reruns against AWS."""

import json
import time

import pytest

from tests.emulator.conftest import receive_all
from tests.emulator.fidelity import advance_clock, emulator_only, unique

pytestmark = pytest.mark.integration

HANDLER = """
def lambda_handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail: " + str(event["fail"]))
    return {"doubled": event["n"] * 2, "version": context.function_version}
"""
STATES_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


@pytest.fixture(scope="module")
def doubler(cloud):
    """The doubling function, with version 1 published and alias `live` on it: its ARN."""
    arn = cloud.function(HANDLER)
    lam = cloud.client("lambda")
    version = lam.publish_version(FunctionName=arn)["Version"]
    lam.create_alias(FunctionName=arn, Name="live", FunctionVersion=version)
    return arn


@pytest.fixture(scope="module")
def role_arn(cloud):
    """A role Step Functions may assume, allowed to invoke functions and send to queues."""
    iam = cloud.client("iam")
    name = unique("fidelity-states")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(STATES_TRUST))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="invoke", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["lambda:InvokeFunction", "sqs:SendMessage"], "Resource": "*"}]}))

    def delete() -> None:
        iam.delete_role_policy(RoleName=name, PolicyName="invoke")
        iam.delete_role(RoleName=name)

    cloud._cleanups.append(delete)
    time.sleep(0 if cloud.endpoint_url else 10)  # IAM's eventual consistency on AWS
    return arn


def _start(cloud, role_arn: str, definition: dict, execution_input: dict) -> str:
    """Creates the state machine and starts one execution: its ARN."""
    sfn = cloud.client("stepfunctions")
    machine = sfn.create_state_machine(name=unique("fidelity"), definition=json.dumps(definition),
                                       roleArn=role_arn)["stateMachineArn"]
    cloud._cleanups.append(lambda: sfn.delete_state_machine(stateMachineArn=machine))
    return sfn.start_execution(stateMachineArn=machine, input=json.dumps(execution_input))["executionArn"]


def _finished(cloud, execution_arn: str) -> dict:
    """describe_execution's answer once the execution is no longer RUNNING."""
    sfn = cloud.client("stepfunctions")
    deadline = time.monotonic() + cloud.patience * 2
    while (described := sfn.describe_execution(executionArn=execution_arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"{execution_arn} still RUNNING"
        time.sleep(0.2)
    return described


def _run(cloud, role_arn: str, definition: dict, execution_input: dict) -> dict:
    return _finished(cloud, _start(cloud, role_arn, definition, execution_input))


def _history(cloud, execution_arn: str) -> list[dict]:
    sfn = cloud.client("stepfunctions")
    return [event for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
            for event in page["events"]]


def test_tasks_call_lambda_and_the_choice_picks_the_branch(cloud, doubler, role_arn):
    definition = {"StartAt": "Double", "States": {
        "Double": {"Type": "Task", "Resource": doubler, "InputPath": "$.job", "ResultPath": "$.first",
                   "Next": "Big?"},
        "Big?": {"Type": "Choice", "Default": "Small",
                 "Choices": [{"Variable": "$.first.doubled", "NumericGreaterThan": 10, "Next": "Again"}]},
        "Small": {"Type": "Fail", "Error": "TooSmall", "Cause": "the first result was small"},
        "Again": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                  "Parameters": {"FunctionName": f"{doubler}:live", "Payload": {"n.$": "$.first.doubled"}},
                  "ResultSelector": {"second.$": "$.Payload.doubled", "version.$": "$.Payload.version"},
                  "ResultPath": "$.again", "OutputPath": "$.again", "Next": "Done"},
        "Done": {"Type": "Succeed"}}}
    described = _run(cloud, role_arn, definition, {"job": {"n": 6}})
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"second": 24, "version": "1"}  # the alias's version ran
    history = _history(cloud, described["executionArn"])
    assert [e["type"] for e in history] == [
        "ExecutionStarted",
        "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionSucceeded",
        "TaskStateExited",
        "ChoiceStateEntered", "ChoiceStateExited",
        "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited",
        "SucceedStateEntered", "SucceedStateExited",
        "ExecutionSucceeded"]
    assert [e["id"] for e in history] == list(range(1, len(history) + 1))
    scheduled = history[2]["lambdaFunctionScheduledEventDetails"]
    assert (scheduled["resource"], json.loads(scheduled["input"])) == (doubler, {"n": 6})
    assert json.loads(history[4]["lambdaFunctionSucceededEventDetails"]["output"])["doubled"] == 12
    task = history[9]["taskScheduledEventDetails"]
    assert (task["resourceType"], task["resource"]) == ("lambda", "invoke")
    assert json.loads(task["parameters"])["FunctionName"] == f"{doubler}:live"


def test_the_fail_state_fails_the_execution_with_its_error(cloud, doubler, role_arn):
    definition = {"StartAt": "Double", "States": {
        "Double": {"Type": "Task", "Resource": doubler, "Next": "Big?"},
        "Big?": {"Type": "Choice", "Default": "Small",
                 "Choices": [{"Variable": "$.doubled", "NumericGreaterThan": 10, "Next": "Done"}]},
        "Small": {"Type": "Fail", "Error": "TooSmall", "Cause": "the result was small"},
        "Done": {"Type": "Succeed"}}}
    described = _run(cloud, role_arn, definition, {"n": 2})
    assert (described["status"], described["error"], described["cause"]) == ("FAILED", "TooSmall",
                                                                              "the result was small")
    last = _history(cloud, described["executionArn"])[-1]
    assert last["type"] == "ExecutionFailed"
    assert last["executionFailedEventDetails"] == {"error": "TooSmall", "cause": "the result was small"}


def test_a_function_error_is_retried_then_caught(cloud, doubler, role_arn):
    definition = {"StartAt": "Double", "States": {
        "Double": {"Type": "Task", "Resource": doubler, "Next": "Done",
                   "Retry": [{"ErrorEquals": ["ValueError"], "IntervalSeconds": 1, "MaxAttempts": 2,
                              "BackoffRate": 1.0}],
                   "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Recovered"}]},
        "Recovered": {"Type": "Pass", "Parameters": {"caught.$": "$.error.Error", "input.$": "$.fail"},
                      "End": True},
        "Done": {"Type": "Succeed"}}}
    described = _run(cloud, role_arn, definition, {"n": 1, "fail": "always"})
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"caught": "ValueError", "input": "always"}
    history = _history(cloud, described["executionArn"])
    failures = [e["lambdaFunctionFailedEventDetails"] for e in history if e["type"] == "LambdaFunctionFailed"]
    assert len(failures) == 3  # the first attempt and two retries
    assert failures[0]["error"] == "ValueError"
    assert json.loads(failures[0]["cause"])["errorMessage"] == "asked to fail: always"
    assert history[-1]["type"] == "ExecutionSucceeded"


def test_an_uncaught_function_error_fails_the_execution(cloud, doubler, role_arn):
    definition = {"StartAt": "Double", "States": {"Double": {"Type": "Task", "Resource": doubler, "End": True}}}
    described = _run(cloud, role_arn, definition, {"n": 1, "fail": "once"})
    assert (described["status"], described["error"]) == ("FAILED", "ValueError")
    assert json.loads(described["cause"])["errorType"] == "ValueError"


def test_map_runs_the_function_per_item(cloud, doubler, role_arn):
    definition = {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "ItemsPath": "$.items", "End": True,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Double", "States": {
            "Double": {"Type": "Task", "Resource": doubler, "OutputPath": "$.doubled", "End": True}}}}}}
    described = _run(cloud, role_arn, definition, {"items": [{"n": 1}, {"n": 2}, {"n": 3}]})
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == [2, 4, 6]


@emulator_only
def test_a_wait_state_waits_on_the_emulators_clock(cloud, doubler, role_arn):
    definition = {"StartAt": "Hour", "States": {
        "Hour": {"Type": "Wait", "Seconds": 3600, "Next": "Double"},
        "Double": {"Type": "Task", "Resource": doubler, "End": True}}}
    execution = _start(cloud, role_arn, definition, {"n": 5})
    deadline = time.monotonic() + cloud.patience
    while "WaitStateEntered" not in [e["type"] for e in _history(cloud, execution)]:
        assert time.monotonic() < deadline, "the Wait state was never entered"
        time.sleep(0.1)
    time.sleep(0.5)
    assert cloud.client("stepfunctions").describe_execution(executionArn=execution)["status"] == "RUNNING"
    advance_clock(cloud, 3600)
    described = _finished(cloud, execution)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["doubled"] == 10
    types = [e["type"] for e in _history(cloud, execution)]
    assert types[1:3] == ["WaitStateEntered", "WaitStateExited"]


def test_an_sqs_task_sends_the_functions_result(cloud, doubler, role_arn):
    queue_url, _ = cloud.queue()
    definition = {"StartAt": "Double", "States": {
        "Double": {"Type": "Task", "Resource": doubler, "Next": "Send"},
        "Send": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "End": True,
                 "Parameters": {"QueueUrl": queue_url, "MessageBody.$": "States.JsonToString($)"}}}}
    described = _run(cloud, role_arn, definition, {"n": 21})
    assert described["status"] == "SUCCEEDED"
    assert "MessageId" in json.loads(described["output"])
    bodies = [json.loads(m["Body"]) for m in receive_all(cloud.client("sqs"), queue_url, expected=1)]
    assert bodies == [{"doubled": 42, "version": "$LATEST"}]


def test_a_state_machine_a_stack_creates_runs(cloud, doubler, role_arn):
    template = {"Resources": {"Machine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
        "RoleArn": role_arn, "DefinitionString": json.dumps({"StartAt": "Double", "States": {
            "Double": {"Type": "Task", "Resource": doubler, "End": True}}})}}}}
    cloudformation = cloud.client("cloudformation")
    stack = unique("fidelity")
    cloudformation.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    cloud._cleanups.append(lambda: cloudformation.delete_stack(StackName=stack))
    cloudformation.get_waiter("stack_create_complete").wait(StackName=stack)
    machine = cloudformation.describe_stack_resource(StackName=stack, LogicalResourceId="Machine")[
        "StackResourceDetail"]["PhysicalResourceId"]
    execution = cloud.client("stepfunctions").start_execution(stateMachineArn=machine,
                                                              input=json.dumps({"n": 4}))["executionArn"]
    described = _finished(cloud, execution)
    assert (described["status"], json.loads(described["output"])["doubled"]) == ("SUCCEEDED", 8)
