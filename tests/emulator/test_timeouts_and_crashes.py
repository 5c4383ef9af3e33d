"""Timeouts kill the worker; crashed workers (exit, segfault) are replaced; the emulator survives."""

import json
import uuid

import pytest

from tests.emulator.functions import create_function

pytestmark = pytest.mark.integration


def test_a_handler_sleeping_past_its_timeout_is_killed_and_counted_as_an_error(lam, emulator):
    name = create_function(lam, "sleep", timeout=1)
    response = lam.invoke(FunctionName=name, Payload=json.dumps({"seconds": 30}))
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert error["errorType"] == "Sandbox.Timedout"
    assert "timed out after 1.00 seconds" in error["errorMessage"]
    again = lam.invoke(FunctionName=name, Payload=json.dumps({"seconds": 0}))
    assert json.loads(again["Payload"].read()) == "slept"


@pytest.mark.parametrize("kind, reason", [("exit", "exit status 3"), ("segfault", "SIGSEGV")])
def test_a_crashing_worker_is_an_exit_error_and_is_replaced(lam, kind, reason):
    name = create_function(lam, kind)
    for _ in range(2):
        response = lam.invoke(FunctionName=name, Payload=b"{}")
        error = json.loads(response["Payload"].read())
        assert error["errorType"] == "Runtime.ExitError"
        assert reason in error["errorMessage"]


def test_a_worker_lost_mid_invocation_is_retried_on_a_fresh_one(lam, emulator):
    name = create_function(lam, "crash_once")
    bucket = f"crash-{uuid.uuid4().hex[:8]}"
    emulator.client("s3").create_bucket(Bucket=bucket)
    event = json.dumps({"bucket": bucket, "marker": "crashed"})
    first = lam.invoke(FunctionName=name, Payload=event)
    assert first["FunctionError"] == "Unhandled"
    assert json.loads(first["Payload"].read())["errorType"] == "Runtime.ExitError"
    second = lam.invoke(FunctionName=name, Payload=event)
    assert json.loads(second["Payload"].read()) == "second try"
