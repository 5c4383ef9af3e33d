"""Fidelity, issue 21 item 1: what Lambda's API refuses, refused here with AWS's error code (plain boto3: the same
tests run against AWS with FIDELITY_ENDPOINT_URL=aws). The limits and their AWS sources: docs/fidelity.md."""

import io
import json
import zipfile

import pytest
from botocore.exceptions import ClientError

from tests.emulator.fidelity import emulator_only, unique
from tests.emulator.functions import HANDLERS, zip_handler

pytestmark = pytest.mark.integration

LAMBDA_CANNOT_ASSUME = "The role defined for the function cannot be assumed by Lambda."


def _refusal(call) -> dict:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]


def _create(cloud, **settings) -> dict:
    lam = cloud.client("lambda")
    request = {"FunctionName": unique("limits"), "Runtime": "python3.11", "Handler": "app.lambda_handler",
               "Role": cloud.role_arn, "Code": {"ZipFile": zip_handler(HANDLERS["echo"])}, **settings}
    return _refusal(lambda: lam.create_function(**request))


def _zip_of_size(unzipped: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("app.py", HANDLERS["echo"])
        archive.writestr("weights.bin", b"\0" * unzipped)
    return buffer.getvalue()


def test_a_timeout_over_900_seconds_is_refused(cloud):
    assert _create(cloud, Timeout=901)["Code"] == "InvalidParameterValueException"


def test_memory_over_10240_mb_is_refused(cloud):
    assert _create(cloud, MemorySize=10241)["Code"] == "InvalidParameterValueException"


def test_environment_variables_over_4_kb_are_refused(cloud):
    error = _create(cloud, Environment={"Variables": {"A": "x" * 4096}})
    assert error["Code"] == "InvalidParameterValueException"


def test_more_than_five_layers_are_refused(cloud):
    layer = cloud.layer(zip_handler(HANDLERS["echo"]))
    assert _create(cloud, Layers=[layer] * 6)["Code"] == "InvalidParameterValueException"


def test_code_and_layers_over_262144000_bytes_unzipped_are_refused(cloud):
    layer = cloud.layer(_zip_of_size(150_000_000))
    error = _create(cloud, FunctionName="limits-too-big", Code={"ZipFile": _zip_of_size(120_000_000)},
                    Layers=[layer])
    assert error["Code"] == "InvalidParameterValueException"
    lam = cloud.client("lambda")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):  # not made
        lam.get_function(FunctionName="limits-too-big")


def test_an_image_function_with_layers_is_refused(cloud):
    layer = cloud.layer(zip_handler(HANDLERS["echo"]))
    lam = cloud.client("lambda")
    error = _refusal(lambda: lam.create_function(
        FunctionName=unique("limits"), PackageType="Image", Role=cloud.role_arn, Layers=[layer],
        Code={"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/student:latest"}))
    assert error["Code"] == "InvalidParameterValueException"


def test_a_role_lambda_may_not_assume_is_refused(cloud):
    iam = cloud.client("iam")
    name = unique("ec2-only")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                     "Action": "sts:AssumeRole"}]}
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    cloud._cleanups.append(lambda: iam.delete_role(RoleName=name))
    error = _create(cloud, Role=arn)
    assert (error["Code"], error["Message"]) == ("InvalidParameterValueException", LAMBDA_CANNOT_ASSUME)


def test_a_deprecated_runtime_is_refused_at_create(cloud):
    assert _create(cloud, Runtime="python3.7")["Code"] == "InvalidParameterValueException"


def test_a_timeout_over_900_seconds_is_refused_at_update_too(cloud):
    function = cloud.function(HANDLERS["echo"])
    lam = cloud.client("lambda")
    error = _refusal(lambda: lam.update_function_configuration(FunctionName=function, Timeout=901))
    assert error["Code"] == "InvalidParameterValueException"
    assert lam.get_function_configuration(FunctionName=function)["Timeout"] == 10


def test_a_synchronous_payload_over_6_mb_is_refused_with_the_code_aws_sends(cloud):
    function = cloud.function(HANDLERS["echo"])
    payload = json.dumps({"padding": "x" * 6_300_000}).encode()
    error = _refusal(lambda: cloud.client("lambda").invoke(FunctionName=function, Payload=payload))
    assert error["Code"] == "RequestEntityTooLargeException"


@emulator_only  # AWS accepts the create too; the import then fails in the function with `GLIBC_2.34 not found`
def test_a_library_amazon_linux_2_cannot_load_is_reported_in_the_functions_log(cloud):
    from cryptography.hazmat.bindings import _rust

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("app.py", HANDLERS["echo"])
        archive.write(_rust.__file__, "vendor/_rust.abi3.so")
    function = cloud.function(HANDLERS["echo"], code=buffer.getvalue())
    group, logs = f"/aws/lambda/{function.split(':')[6]}", cloud.client("logs")
    # no group before the function logs, as on AWS: a template's own LogGroup for it must still be creatable
    assert not logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    logs.create_log_group(logGroupName=group)
    events = logs.filter_log_events(logGroupName=group)["events"]
    lines = [e["message"] for e in events if e["message"].startswith("PLATFORM:")]
    assert len(lines) == 1 and "vendor/_rust.abi3.so" in lines[0] and "GLIBC_2.34" in lines[0]


def test_a_handler_holding_more_than_its_memory_size_is_killed(cloud):
    hog = ("import time\n\ndef lambda_handler(event, context):\n    held = bytearray(400 * 1024 * 1024)\n"
           "    held[::4096] = b'x' * len(held[::4096])\n    time.sleep(2)\n    return len(held)\n")
    function = cloud.function(hog, MemorySize=128)
    response = cloud.client("lambda").invoke(FunctionName=function, Payload=b"{}")
    error = json.loads(response["Payload"].read())
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.OutOfMemory"
    assert "signal: killed" in error["errorMessage"]
    assert cloud.client("lambda").invoke(FunctionName=cloud.function(HANDLERS["echo"], MemorySize=128),
                                         Payload=b'{"ok": 1}')["Payload"].read() == b'{"ok": 1}'


TMP_WRITER = """import errno, os

def lambda_handler(event, context):
    chunk = b"x" * (1024 * 1024)
    written = 0
    try:
        with open("/tmp/big.bin", "wb") as handle:
            for _ in range(event["mb"]):
                handle.write(chunk)
                written += 1
            handle.flush()
    except OSError as exc:
        return {"errno": exc.errno, "written_mb": written}
    finally:
        if os.path.exists("/tmp/big.bin"):
            os.remove("/tmp/big.bin")
    return {"errno": 0, "written_mb": written}
"""


def test_tmp_holds_what_ephemeral_storage_says(cloud):
    lam = cloud.client("lambda")
    default = cloud.function(TMP_WRITER, MemorySize=256)
    answer = json.loads(lam.invoke(FunctionName=default, Payload=b'{"mb": 600}')["Payload"].read())
    assert answer["errno"] == 28 and answer["written_mb"] < 520  # ENOSPC: "No space left on device"
    larger = cloud.function(TMP_WRITER, MemorySize=256, EphemeralStorage={"Size": 1024})
    assert json.loads(lam.invoke(FunctionName=larger, Payload=b'{"mb": 600}')["Payload"].read()) == {
        "errno": 0, "written_mb": 600}


def test_a_function_name_over_64_characters_is_refused(cloud):
    """moto created it: the model allows 140 characters (an ARN), Lambda a name of at most 64."""
    name = unique("limits").ljust(65, "x")
    error = _create(cloud, FunctionName=name)
    assert error["Code"] == "InvalidParameterValueException"
    assert error["Message"] == (f"1 validation error detected: Value '{name}' at 'functionName' failed to satisfy "
                                "constraint: Member must have length less than or equal to 64")
