"""AWS Lambda's limits table (issue 21): each create/update/invoke check refuses with AWS's code, at AWS's bound."""

from __future__ import annotations

import json
import string
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st

from emulator.aws import lambda_limits as limits
from emulator.aws.lambda_limits import LambdaLimitError

TODAY = date(2026, 12, 4)
ROLE = "arn:aws:iam::123456789012:role/lambda-role"
LAMBDA_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
EC2_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def zip_request(**overrides: Any) -> dict[str, Any]:
    request = {"FunctionName": "student-fn", "Runtime": "python3.11", "Handler": "app.lambda_handler", "Role": ROLE,
               "Code": {"ZipFile": b"PK\x05\x06" + bytes(18)}}
    return request | overrides


def create(request: dict[str, Any], **context: Any) -> None:
    limits.check_create_function(request, **({"today": TODAY, "trust_policy": LAMBDA_TRUST} | context))


def refusal(request: dict[str, Any], **context: Any) -> LambdaLimitError:
    with pytest.raises(LambdaLimitError) as caught:
        create(request, **context)
    return caught.value


def test_every_row_names_its_aws_page_and_error() -> None:
    names = [row.name for row in limits.LIMITS]
    assert len(names) == len(set(names))
    for row in limits.LIMITS:
        assert row.source.startswith("https://docs.aws.amazon.com/lambda/"), row.name
        assert row.error_code and row.message and row.unit, row.name


def test_a_course_style_zip_function_passes_every_check() -> None:
    create(zip_request(Timeout=30, MemorySize=1024, EphemeralStorage={"Size": 512},
                       Environment={"Variables": {"TABLE": "students", "BUCKET": "frames"}},
                       Layers=layer_arns(5)),
           code_unzipped_bytes=10_000, layers_unzipped_bytes=100_000)


SETTINGS = {  # request parameter: (AWS's lowest, AWS's highest, the parameter as boto3 sends a value)
    "Timeout": (1, 900, lambda value: {"Timeout": value}),
    "MemorySize": (128, 10240, lambda value: {"MemorySize": value}),
    "EphemeralStorage": (512, 10240, lambda value: {"EphemeralStorage": {"Size": value}}),
}


@given(st.sampled_from(sorted(SETTINGS)), st.integers(min_value=-5, max_value=20000))
def test_numeric_settings_are_accepted_within_aws_bounds_only(setting: str, value: int) -> None:
    low, high, parameter = SETTINGS[setting]
    if low <= value <= high:
        create(zip_request(**parameter(value)))
    else:
        assert refusal(zip_request(**parameter(value))).limit.bound == ("min" if value < low else "max")


@pytest.mark.parametrize(("parameter", "code"), [
    ({"Timeout": 901}, "InvalidParameterValueException"), ({"Timeout": 0}, "ValidationException"),
    ({"MemorySize": 10241}, "InvalidParameterValueException"), ({"MemorySize": 127}, "ValidationException"),
    ({"EphemeralStorage": {"Size": 10241}}, "InvalidParameterValueException"),
    ({"EphemeralStorage": {"Size": 511}}, "InvalidParameterValueException"),
])
def test_just_past_each_bound_aws_code_comes_back(parameter: dict[str, Any], code: str) -> None:
    error = refusal(zip_request(**parameter))
    assert (error.code, error.error_type) == (400, code)


def test_timeout_901_names_the_900_second_limit() -> None:
    assert refusal(zip_request(Timeout=901)).message == (
        "'timeout' failed to satisfy constraint: Member must have value less than or equal to 900")


def env_of_size(total_bytes: int) -> dict[str, Any]:
    """Variables whose compact JSON, {"A":"xx…"}, is total_bytes long."""
    return {"Variables": {"A": "x" * (total_bytes - len('{"A":""}'))}}


def test_environment_of_exactly_4_kb_passes_and_one_byte_more_is_refused() -> None:
    create(zip_request(Environment=env_of_size(4096)))
    error = refusal(zip_request(Environment=env_of_size(4097)))
    assert error.error_type == "InvalidParameterValueException"
    assert error.message.endswith('String measured: {"A":"' + "x" * 4089 + '"}')


@given(st.dictionaries(st.text(string.ascii_letters, min_size=1, max_size=8),
                       st.text(max_size=300), max_size=20))
def test_environment_is_measured_as_utf8_of_its_compact_json(variables: dict[str, str]) -> None:
    size, measured = limits.environment_size(variables)
    assert json.loads(measured) == variables
    assert size == len(json.dumps(variables, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    request = zip_request(Environment={"Variables": variables})
    if size <= 4096:
        create(request)
    else:
        assert refusal(request).limit is limits.ENVIRONMENT_SIZE


def test_a_non_ascii_character_counts_its_utf8_bytes() -> None:
    assert limits.environment_size({"K": "é"})[0] == len('{"K":""}') + 2
    create(zip_request(Environment=env_of_size(4096)))
    two_byte_overflow = {"Variables": {"A": "é" + "x" * (4096 - len('{"A":""}') - 1)}}
    assert refusal(zip_request(Environment=two_byte_overflow)).limit is limits.ENVIRONMENT_SIZE


def test_reserved_environment_keys_are_refused_and_named_in_the_requests_order() -> None:
    create(zip_request(Environment={"Variables": {"MY_AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": "x", "TZ": "UTC"}}))
    variables = {"BUCKET": "frames", "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "k", "LAMBDA_TASK_ROOT": "/x"}
    error = refusal(zip_request(Environment={"Variables": variables}))
    assert (error.limit, error.error_type) == (limits.RESERVED_ENVIRONMENT, "InvalidParameterValueException")
    assert error.message.endswith("Reserved keys used in this request: AWS_REGION, AWS_ACCESS_KEY_ID, LAMBDA_TASK_ROOT")
    for key in limits.RESERVED_ENVIRONMENT_KEYS:
        assert refusal(zip_request(Environment={"Variables": {key: "v"}})).limit is limits.RESERVED_ENVIRONMENT


def layer_arns(count: int) -> list[str]:
    return [f"arn:aws:lambda:us-east-1:123456789012:layer:l{n}:1" for n in range(count)]


def test_five_layers_pass_and_six_are_refused() -> None:
    create(zip_request(Layers=layer_arns(5)))
    error = refusal(zip_request(Layers=layer_arns(6)))
    assert error.error_type == "InvalidParameterValueException"
    assert error.message == "Cannot reference more than 5 layers."


def test_an_image_function_takes_no_layers_handler_or_runtime() -> None:
    image = {"FunctionName": "image-fn", "PackageType": "Image", "Role": ROLE,
             "Code": {"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/splitter:latest"}}
    create(image)
    for extra in ({"Layers": layer_arns(1)}, {"Handler": "app.handler"}, {"Runtime": "python3.11"}):
        assert refusal(image | extra).limit is limits.IMAGE_EXCLUSIONS


def test_handler_format() -> None:
    create(zip_request(Handler="a" * 128))
    assert refusal(zip_request(Handler="a" * 129)).limit is limits.HANDLER_LENGTH
    for handler in ("", "app. handler", "app.handler\n"):
        error = refusal(zip_request(Handler=handler))
        assert (error.limit, error.error_type) == (limits.HANDLER_PATTERN, "ValidationException")


@pytest.mark.parametrize("name", ["face recognition", "face.recognition", "face/recognition", ""])
def test_a_function_name_outside_lambda_s_pattern_is_refused(name: str) -> None:
    error = refusal(zip_request(FunctionName=name))
    assert (error.limit, error.error_type) == (limits.FUNCTION_NAME_PATTERN, "ValidationException")
    assert error.message.startswith(f"1 validation error detected: Value '{name}' at 'functionName'")


def test_function_names_within_the_pattern_pass() -> None:
    for name in ("face-recognition", "video_splitting2", "arn:aws:lambda:us-east-1:123456789012:function:f", "f" * 64,
                 f"arn:aws:lambda:us-east-1:123456789012:function:{'f' * 64}"):
        create(zip_request(FunctionName=name))


@pytest.mark.parametrize("name", ["f" * 65, f"arn:aws:lambda:us-east-1:123456789012:function:{'f' * 65}"])
def test_a_function_name_over_64_characters_is_refused(name: str) -> None:
    error = refusal(zip_request(FunctionName=name))
    assert (error.limit, error.error_type) == (limits.FUNCTION_NAME_LENGTH, "InvalidParameterValueException")
    assert error.message.endswith("Member must have length less than or equal to 64")


def test_a_zip_upload_past_50_mb_is_refused_with_413_before_anything_else() -> None:
    limits.check_request_size("CreateFunction", 69905066)
    with pytest.raises(LambdaLimitError) as caught:
        limits.check_request_size("UpdateFunctionCode", 69905067)
    assert (caught.value.code, caught.value.error_type) == (413, "RequestEntityTooLargeException")
    assert caught.value.message == "Request must be smaller than 69905067 bytes for the UpdateFunctionCode operation"


def lambda_client_answered_by(status: int, headers: dict[str, str], body: bytes, sent: list[int]) -> Any:
    """A boto3 Lambda client whose requests get this HTTP answer (their body sizes go to `sent`)."""
    client = boto3.client("lambda", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")

    class Raw:
        def stream(self, **_: Any) -> Any:
            yield body

    def answer(request: Any, **_: Any) -> AWSResponse:
        sent.append(len(request.body or b""))
        return AWSResponse("http://127.0.0.1", status, headers, Raw())

    client.meta.events.register("before-send.lambda", answer)
    return client


@given(st.binary(max_size=64))
def test_the_request_is_measured_as_boto3_sends_it(zip_bytes: bytes) -> None:
    request = zip_request(Code={"ZipFile": zip_bytes})
    sent: list[int] = []
    lambda_client_answered_by(201, {}, b"{}", sent).create_function(**request)
    assert limits.encoded_request_size("CreateFunction", request) == sent[0]


def test_unzipped_code_and_layers_share_262144000_bytes() -> None:
    create(zip_request(), code_unzipped_bytes=262_143_999)
    error = refusal(zip_request(), code_unzipped_bytes=262_144_000)
    assert error.message == "Unzipped size must be smaller than 262144000 bytes"
    # a public trace: with ~208 MB of layers AWS answered "smaller than 53642504 bytes"
    error = refusal(zip_request(), code_unzipped_bytes=60_000_000, layers_unzipped_bytes=262_144_000 - 53_642_504)
    assert (error.error_type, error.message) == ("InvalidParameterValueException",
                                                 "Unzipped size must be smaller than 53642504 bytes")
    error = refusal(zip_request(), code_unzipped_bytes=1, layers_unzipped_bytes=262_144_001)
    assert error.limit is limits.UNZIPPED_LAYERS


def test_a_layer_is_refused_past_262144000_bytes_unzipped() -> None:
    layer = {"LayerName": "deps", "Content": {"ZipFile": b"PK"}}
    limits.check_publish_layer_version(layer, unzipped_bytes=262_143_999)
    with pytest.raises(LambdaLimitError) as caught:
        limits.check_publish_layer_version(layer, unzipped_bytes=262_144_000)
    assert caught.value.error_type == "InvalidParameterValueException"


@given(st.integers(min_value=0, max_value=8_000_000), st.sampled_from(["RequestResponse", "Event", "DryRun"]))
def test_invoke_payload_limits(size: int, invocation_type: str) -> None:
    ceiling = 1_048_576 if invocation_type == "Event" else 6_291_455
    if size <= ceiling:
        limits.check_invoke_payload(invocation_type, size)
        return
    with pytest.raises(LambdaLimitError) as caught:
        limits.check_invoke_payload(invocation_type, size)
    assert (caught.value.code, caught.value.error_type) == (413, "RequestEntityTooLargeException")


def test_invoke_messages_at_the_boundaries() -> None:
    with pytest.raises(LambdaLimitError) as caught:
        limits.check_invoke_payload("RequestResponse", 6_291_456)
    assert caught.value.message == "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
    with pytest.raises(LambdaLimitError) as caught:
        limits.check_invoke_payload("Event", 1_048_577)
    assert caught.value.message == ("1048577 byte payload is too large for the Event invocation type "
                                    "(limit 1048576 bytes)")


def test_boto3_receives_request_entity_too_large_not_the_modelled_name() -> None:
    with pytest.raises(LambdaLimitError) as caught:
        limits.check_invoke_payload("RequestResponse", 7_000_000)
    error = caught.value
    client = lambda_client_answered_by(error.code, dict(error.get_headers()), error.get_body().encode(), [])
    with pytest.raises(ClientError) as received:
        client.invoke(FunctionName="f", Payload=b"{}")
    assert received.value.response["Error"]["Code"] == "RequestEntityTooLargeException"
    assert received.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert not isinstance(received.value, client.exceptions.RequestTooLargeException)
    assert str(received.value).endswith(error.message)


def test_a_response_over_6_mb_becomes_the_function_error_aws_returns() -> None:
    assert limits.oversized_response(6_291_556) is None
    assert limits.oversized_response(6_291_557) == {
        "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
        "errorType": "Function.ResponseSizeTooLarge"}


@given(st.sampled_from(limits.RUNTIME_SCHEDULE), st.dates(min_value=date(2023, 1, 1), max_value=date(2030, 1, 1)))
def test_runtimes_are_blocked_by_aws_dates(schedule: limits.RuntimeSchedule, today: date) -> None:
    request = zip_request(Runtime=schedule.identifier)
    if today < schedule.block_create:
        create(request, today=today)
    else:
        error = refusal(request, today=today)
        assert error.error_type == "InvalidParameterValueException"
        assert f"Value {schedule.identifier} at 'runtime'" in error.message
    updating = {"today": today, "package_type": "Zip", "runtime": schedule.identifier}
    if today < schedule.block_update:
        limits.check_update_code({"FunctionName": "f", "ZipFile": b"PK"}, **updating)
    else:
        with pytest.raises(LambdaLimitError):
            limits.check_update_code({"FunctionName": "f", "ZipFile": b"PK"}, **updating)


def test_python37_is_refused_at_create_but_its_functions_update_until_aws_blocks_it() -> None:
    error = refusal(zip_request(Runtime="python3.7"))
    assert "python3.7" not in error.message.split("enum value set:")[1]
    assert "python3.12" in error.message
    limits.check_update_code({"ZipFile": b"PK"}, today=TODAY, package_type="Zip", runtime="python3.7")
    block = limits.runtime_schedule("python3.7").block_update
    with pytest.raises(LambdaLimitError):
        limits.check_update_code({"ZipFile": b"PK"}, today=block, package_type="Zip", runtime="python3.7")
    create(zip_request(Runtime="python3.11"), today=date(2027, 7, 28))
    refusal(zip_request(Runtime="python3.11"), today=date(2027, 7, 29))


def test_a_runtime_absent_from_aws_tables_is_refused() -> None:
    assert refusal(zip_request(Runtime="python2.7")).limit is limits.RUNTIME_SCHEDULE_ROW


def test_role_trust_must_let_lambda_assume_the_role() -> None:
    error = refusal(zip_request(), trust_policy=EC2_TRUST)
    assert (error.error_type, error.message) == ("InvalidParameterValueException",
                                                 "The role defined for the function cannot be assumed by Lambda.")
    assert refusal(zip_request(), trust_policy=None).limit is limits.ROLE_TRUST
    assert refusal(zip_request(), trust_policy="not json").limit is limits.ROLE_TRUST
    denied = {"Statement": [LAMBDA_TRUST["Statement"][0] | {"Effect": "Deny"}]}
    assert refusal(zip_request(), trust_policy=denied).limit is limits.ROLE_TRUST


@pytest.mark.parametrize("trust", [
    json.dumps(LAMBDA_TRUST),
    quote(json.dumps(LAMBDA_TRUST)),
    {"Statement": {"Effect": "Allow", "Principal": {"Service": ["ec2.amazonaws.com", "lambda.amazonaws.com"]},
                   "Action": ["sts:AssumeRole", "sts:TagSession"]}},
    {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sts:*"}]},
])
def test_trust_policies_that_let_lambda_in(trust: Any) -> None:
    create(zip_request(), trust_policy=trust)


def test_update_configuration_checks_what_it_changes() -> None:
    current = {"today": TODAY, "package_type": "Zip", "current_runtime": "python3.11"}
    limits.check_update_configuration({"FunctionName": "f", "Timeout": 900}, **current)
    with pytest.raises(LambdaLimitError) as caught:
        limits.check_update_configuration({"FunctionName": "f", "Timeout": 901}, **current)
    assert caught.value.error_type == "InvalidParameterValueException"
    with pytest.raises(LambdaLimitError) as caught:
        limits.check_update_configuration({"FunctionName": "f", "Role": ROLE}, trust_policy=EC2_TRUST, **current)
    assert caught.value.limit is limits.ROLE_TRUST
    with pytest.raises(LambdaLimitError) as caught:
        limits.check_update_configuration({"FunctionName": "f", "Layers": layer_arns(1)},
                                          code_unzipped_bytes=200_000_000, layers_unzipped_bytes=70_000_000, **current)
    assert caught.value.limit is limits.UNZIPPED_CODE
    with pytest.raises(LambdaLimitError) as caught:
        limits.check_update_configuration({"FunctionName": "f", "Layers": layer_arns(1)},
                                          **(current | {"package_type": "Image", "current_runtime": None}))
    assert caught.value.limit is limits.IMAGE_EXCLUSIONS


def test_an_environment_within_4_kb_can_still_make_the_request_too_large() -> None:
    current = {"today": TODAY, "package_type": "Zip", "current_runtime": "python3.11"}
    accented = {"Variables": {"A": "é" * 2000}}  # 4,008 bytes measured; boto3 sends each é as \\u00e9
    assert limits.environment_size(accented["Variables"])[0] <= 4096
    with pytest.raises(LambdaLimitError) as caught:
        limits.check_update_configuration({"FunctionName": "f", "Environment": accented}, **current)
    assert (caught.value.code, caught.value.error_type) == (413, "RequestEntityTooLargeException")
    assert caught.value.message == ("Request must be smaller than 5120 bytes for the UpdateFunctionConfiguration "
                                    "operation")


def test_dates_are_compared_to_the_day_passed_in() -> None:
    block = limits.runtime_schedule("python3.10").block_create
    create(zip_request(Runtime="python3.10"), today=block - timedelta(days=1))
    refusal(zip_request(Runtime="python3.10"), today=block)
