"""Fidelity, issue 12 items 2, 9-12: Lambda's errors, throttles (reserved 0 too), destinations, lost events."""

import io
import json
import uuid
import zipfile

import pytest
from botocore.exceptions import ClientError

from tests.emulator.conftest import receive_all
from tests.emulator.fidelity import emulator_only
from tests.emulator.functions import HANDLERS, zip_handler

pytestmark = pytest.mark.integration

IMAGE_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/student-face-recognition:latest"
NOT_A_ZIP = "Could not unzip uploaded file. Please check your file, then try to upload again."
BURST = 12


def _error(call):
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]


def _escaping_zip():
    """A zip the emulator refuses to unpack when the function starts (a member escapes the code folder)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", HANDLERS["echo"])
        archive.writestr("../outside.py", "")
    return buffer.getvalue()


def _records(cloud, queue_url, expected):
    messages = receive_all(cloud.client("sqs"), queue_url, expected=expected, timeout=cloud.patience)
    return [json.loads(m["Body"]) for m in messages]


def test_an_image_function_the_emulator_cannot_map_is_refused_at_create(cloud):
    error = _error(lambda: cloud.client("lambda").create_function(
        FunctionName="fidelity-image", PackageType="Image", Code={"ImageUri": IMAGE_URI}, Role=cloud.role_arn))
    assert error["Code"] == "InvalidParameterValueException"
    assert IMAGE_URI in error["Message"]


def test_code_that_is_not_a_zip_is_refused_with_aws_error(cloud):
    lam = cloud.client("lambda")
    error = _error(lambda: lam.create_function(
        FunctionName="fidelity-not-a-zip", Runtime="python3.11", Handler="app.lambda_handler", Role=cloud.role_arn,
        Code={"ZipFile": b"this is not a zip"}))
    assert (error["Code"], error["Message"]) == ("InvalidParameterValueException", NOT_A_ZIP)
    function = cloud.function(HANDLERS["echo"])
    error = _error(lambda: lam.update_function_code(FunctionName=function, ZipFile=b"still not a zip"))
    assert (error["Code"], error["Message"]) == ("InvalidParameterValueException", NOT_A_ZIP)
    response = lam.invoke(FunctionName=function, Payload=json.dumps({"kept": True}))
    assert json.loads(response["Payload"].read()) == {"kept": True}


@emulator_only
@pytest.mark.parametrize("invocation_type", ["RequestResponse", "Event"])
def test_a_payload_that_is_not_json_is_refused_before_the_function_runs(cloud, invocation_type):
    """Here the function ran and failed with Runtime.UnmarshalError; Lambda refuses the request itself."""
    function = cloud.function(HANDLERS["echo"])
    error = _error(lambda: cloud.client("lambda").invoke(FunctionName=function, InvocationType=invocation_type,
                                                         Payload=b"not json"))
    assert error["Code"] == "InvalidRequestContentException"
    assert error["Message"].startswith("Could not parse request body into json")


def test_adding_a_permission_whose_statement_id_exists_is_refused(cloud):
    """A setup script run twice: moto added a second statement of the same id, Lambda refuses it."""
    lam, function = cloud.client("lambda"), cloud.function(HANDLERS["echo"])
    permission = {"FunctionName": function, "StatementId": "s3-invoke", "Action": "lambda:InvokeFunction",
                  "Principal": "s3.amazonaws.com"}
    lam.add_permission(**permission)
    error = _error(lambda: lam.add_permission(**permission))
    assert (error["Code"], error["Message"]) == ("ResourceConflictException", "The statement id (s3-invoke) provided "
                                                 "already exists. Please provide a new statement id, or remove the "
                                                 "existing statement.")
    assert len(json.loads(lam.get_policy(FunctionName=function)["Policy"])["Statement"]) == 1


def test_a_failure_inside_the_emulator_is_a_service_exception_not_an_html_page(cloud):
    function = cloud.function("", code=_escaping_zip())
    error = _error(lambda: cloud.client("lambda").invoke(FunctionName=function, Payload=b"{}"))
    assert error["Code"] == "ServiceException"
    assert function.split(":")[6] in error["Message"]


def test_throttled_async_events_count_one_throttle_per_throttled_try(cloud):
    url, _ = cloud.queue()
    # each run holds the only slot a while, so the burst's later events find it taken however far apart they came
    function = cloud.function(HANDLERS["sleep_then_report"], env={"REPORT_QUEUE_URL": url, "SLEEP": "0.3"})
    lam = cloud.client("lambda")
    lam.put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=1)
    for n in range(BURST):
        lam.invoke(FunctionName=function, InvocationType="Event", Payload=json.dumps({"n": n}))
    assert sorted(body["n"] for body in _records(cloud, url, BURST)) == list(range(BURST))
    assert cloud.wait_for_metric(function, "Invocations", at_least=BURST) == BURST
    assert 1 <= cloud.wait_for_metric(function, "Throttles", at_least=1) <= 100


def test_reserved_concurrency_zero_throttles_every_invoke_with_aws_error(cloud):
    function = cloud.function(HANDLERS["echo"])
    lam = cloud.client("lambda")
    lam.put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError) as caught:
        lam.invoke(FunctionName=function, Payload=b"{}")
    response = caught.value.response
    assert (response["Error"]["Code"], response["Error"]["Message"]) == ("TooManyRequestsException", "Rate Exceeded.")
    assert response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 429
    lam.delete_function_concurrency(FunctionName=function)
    assert json.loads(lam.invoke(FunctionName=function, Payload=b'{"n": 1}')["Payload"].read()) == {"n": 1}


def test_reserved_concurrency_zero_sends_async_events_to_on_failure_without_running_them(cloud):
    lam = cloud.client("lambda")
    reports_url, _ = cloud.queue()
    failures_url, failures_arn = cloud.queue()
    function = cloud.function(HANDLERS["report"], env={"REPORT_QUEUE_URL": reports_url})
    lam.put_function_event_invoke_config(FunctionName=function,
                                         DestinationConfig={"OnFailure": {"Destination": failures_arn}})
    lam.put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=0)
    lam.invoke(FunctionName=function, InvocationType="Event", Payload=json.dumps({"n": 7}))
    [failure] = _records(cloud, failures_url, 1)
    assert failure["requestPayload"] == {"n": 7}
    assert failure["requestContext"]["approximateInvokeCount"] == 0
    assert "responsePayload" not in failure
    assert cloud.client("sqs").receive_message(QueueUrl=reports_url, WaitTimeSeconds=1).get("Messages") is None


def test_async_destinations_get_aws_invocation_records(cloud):
    lam = cloud.client("lambda")
    reports_url, _ = cloud.queue()
    failures_url, failures_arn = cloud.queue()
    successes_url, successes_arn = cloud.queue()
    failing = cloud.function(HANDLERS["fail"], env={"REPORT_QUEUE_URL": reports_url})
    echo = cloud.function(HANDLERS["echo"])
    lam.put_function_event_invoke_config(FunctionName=failing, MaximumRetryAttempts=1, MaximumEventAgeInSeconds=3600,
                                         DestinationConfig={"OnFailure": {"Destination": failures_arn}})
    lam.put_function_event_invoke_config(FunctionName=echo, DestinationConfig={
        "OnSuccess": {"Destination": successes_arn}, "OnFailure": {"Destination": failures_arn}})
    lam.invoke(FunctionName=failing, InvocationType="Event", Payload=json.dumps({"n": 1}))
    lam.invoke(FunctionName=echo, InvocationType="Event", Payload=json.dumps({"n": 2}))

    [failure] = _records(cloud, failures_url, 1)
    assert len(_records(cloud, reports_url, 3)) == 2  # the first run and MaximumRetryAttempts=1 retry
    assert failure["version"] == "1.0" and failure["timestamp"]
    assert failure["requestContext"]["functionArn"] == f"{failing}:$LATEST"
    assert failure["requestContext"]["condition"] == "RetriesExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 2
    assert failure["requestPayload"] == {"n": 1}
    assert failure["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST",
                                          "functionError": "Unhandled"}
    assert failure["responsePayload"]["errorType"] == "ValueError"
    assert failure["responsePayload"]["errorMessage"] == "boom"

    [success] = _records(cloud, successes_url, 1)
    assert success["requestContext"]["condition"] == "Success"
    assert success["requestContext"]["approximateInvokeCount"] == 1
    assert success["requestPayload"] == success["responsePayload"] == {"n": 2}
    assert success["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}


def test_a_record_that_cannot_be_delivered_counts_in_destination_delivery_failures(cloud):
    lam = cloud.client("lambda")
    _, arn = cloud.queue()
    failing = cloud.function(HANDLERS["raise"])
    missing = arn.rsplit(":", 1)[0] + ":fidelity-never-created"
    lam.put_function_event_invoke_config(FunctionName=failing, MaximumRetryAttempts=0,
                                         DestinationConfig={"OnFailure": {"Destination": missing}})
    lam.invoke(FunctionName=failing, InvocationType="Event", Payload=b"{}")
    assert cloud.wait_for_metric(failing, "DestinationDeliveryFailures", at_least=1) == 1


def test_updating_the_async_config_changes_only_the_settings_named(cloud):
    lam = cloud.client("lambda")
    _, failures_arn = cloud.queue()
    function = cloud.function(HANDLERS["echo"])
    lam.put_function_event_invoke_config(FunctionName=function, MaximumRetryAttempts=1,
                                         DestinationConfig={"OnFailure": {"Destination": failures_arn}})
    lam.update_function_event_invoke_config(FunctionName=function, MaximumEventAgeInSeconds=120)
    config = lam.get_function_event_invoke_config(FunctionName=function)
    assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (1, 120)
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == failures_arn
    lam.put_function_event_invoke_config(FunctionName=function, MaximumEventAgeInSeconds=300)
    config = lam.get_function_event_invoke_config(FunctionName=function)
    assert config["MaximumEventAgeInSeconds"] == 300 and "MaximumRetryAttempts" not in config


def test_a_templates_event_invoke_config_is_applied(cloud):
    failures_url, failures_arn = cloud.queue()
    template = {"Resources": {
        "Failing": {"Type": "AWS::Lambda::Function", "Properties": {
            "Runtime": "python3.11", "Handler": "index.handler", "Role": cloud.role_arn,
            "Code": {"ZipFile": "def handler(event, context):\n    raise ValueError('boom')\n"}}},
        "FailingAsync": {"Type": "AWS::Lambda::EventInvokeConfig", "Properties": {
            "FunctionName": {"Ref": "Failing"}, "Qualifier": "$LATEST", "MaximumRetryAttempts": 0,
            "MaximumEventAgeInSeconds": 120, "DestinationConfig": {"OnFailure": {"Destination": failures_arn}}}}}}
    cfn, lam = cloud.client("cloudformation"), cloud.client("lambda")
    stack = f"fidelity-async-{failures_arn.rsplit('-', 1)[-1]}"
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    try:
        cfn.get_waiter("stack_create_complete").wait(StackName=stack, WaiterConfig={"Delay": 1})
        function = cfn.describe_stack_resource(StackName=stack, LogicalResourceId="Failing")[
            "StackResourceDetail"]["PhysicalResourceId"]
        config = lam.get_function_event_invoke_config(FunctionName=function)
        assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (0, 120)
        lam.invoke(FunctionName=function, InvocationType="Event", Payload=json.dumps({"n": 3}))
        [failure] = _records(cloud, failures_url, 1)
        assert failure["requestContext"]["approximateInvokeCount"] == 1
        assert failure["requestPayload"] == {"n": 3}
    finally:
        cfn.delete_stack(StackName=stack)


def test_a_function_destination_receives_the_record_without_retries_when_none_are_allowed(cloud):
    lam = cloud.client("lambda")
    reports_url, _ = cloud.queue()
    failing = cloud.function(HANDLERS["raise"])
    recorder = cloud.function(HANDLERS["report"], env={"REPORT_QUEUE_URL": reports_url})
    lam.put_function_event_invoke_config(FunctionName=failing, MaximumRetryAttempts=0,
                                         DestinationConfig={"OnFailure": {"Destination": recorder}})
    lam.invoke(FunctionName=failing, InvocationType="Event", Payload=json.dumps({"n": 3}))
    [record] = _records(cloud, reports_url, 1)
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["requestPayload"] == {"n": 3}


def test_sns_and_eventbridge_destinations_and_an_sns_dead_letter_topic(cloud):
    lam = cloud.client("lambda")
    (topic_url, topic_queue), (bus_url, bus_queue), (dlq_url, dlq_queue) = (cloud.queue() for _ in range(3))
    failing = cloud.function(HANDLERS["raise"])
    lam.update_function_configuration(FunctionName=failing,
                                      DeadLetterConfig={"TargetArn": cloud.topic_to(dlq_queue)})
    lam.get_waiter("function_updated_v2").wait(FunctionName=failing)
    assert lam.get_function_configuration(FunctionName=failing)["DeadLetterConfig"]["TargetArn"].startswith(
        "arn:aws:sns:")
    lam.put_function_event_invoke_config(FunctionName=failing, MaximumRetryAttempts=0,
                                         DestinationConfig={"OnFailure": {"Destination": cloud.topic_to(topic_queue)}})
    echo = cloud.function(HANDLERS["echo"])
    lam.put_function_event_invoke_config(FunctionName=echo,
                                         DestinationConfig={"OnSuccess": {"Destination": cloud.bus_to(bus_queue)}})
    lam.invoke(FunctionName=failing, InvocationType="Event", Payload=json.dumps({"n": 5}))
    lam.invoke(FunctionName=echo, InvocationType="Event", Payload=json.dumps({"n": 6}))
    [failure] = _records(cloud, topic_url, 1)
    assert (failure["requestContext"]["condition"], failure["requestPayload"]) == ("RetriesExhausted", {"n": 5})
    [dead_letter] = _records(cloud, dlq_url, 1)
    assert dead_letter == {"n": 5}
    [event] = _records(cloud, bus_url, 1)
    assert (event["source"], event["detail-type"]) == ("lambda", "Lambda Function Invocation Result - Success")
    assert event["detail"]["responsePayload"] == {"n": 6}


@emulator_only
def test_an_event_whose_function_cannot_start_is_retried_then_reaches_on_failure(cloud):
    lam = cloud.client("lambda")
    failures_url, failures_arn = cloud.queue()
    function = cloud.function("", code=_escaping_zip())
    lam.put_function_event_invoke_config(FunctionName=function,
                                         DestinationConfig={"OnFailure": {"Destination": failures_arn}})
    lam.invoke(FunctionName=function, InvocationType="Event", Payload=json.dumps({"n": 4}))
    [record] = _records(cloud, failures_url, 1)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestPayload"] == {"n": 4}
    assert record["responsePayload"]["errorType"] == "ServiceException"


def test_a_new_function_is_pending_until_its_environment_is_ready(cloud):
    lam = cloud.client("lambda")
    created = lam.create_function(FunctionName=f"pending-{uuid.uuid4().hex[:8]}", Runtime="python3.11",
                                  Handler="app.lambda_handler", Role=cloud.role_arn,
                                  Code={"ZipFile": zip_handler(HANDLERS["echo"])})
    cloud._cleanups.append(lambda: lam.delete_function(FunctionName=created["FunctionName"]))
    assert created["State"] == "Pending"  # AWS answers CreateFunction before the function can run
    lam.get_waiter("function_active_v2").wait(FunctionName=created["FunctionName"])
    assert lam.get_function_configuration(FunctionName=created["FunctionName"])["State"] == "Active"
    lam.update_function_code(FunctionName=created["FunctionName"], ZipFile=zip_handler(HANDLERS["echo"] + "\n"))
    lam.get_waiter("function_updated_v2").wait(FunctionName=created["FunctionName"])
    assert lam.get_function_configuration(FunctionName=created["FunctionName"])["LastUpdateStatus"] == "Successful"
