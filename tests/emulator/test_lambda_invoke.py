"""Synchronous Invoke through the Lambda API runs the real handler in an awslambdaric worker."""

import base64
import json
import time

import pytest

from tests.emulator.conftest import log_messages
from tests.emulator.functions import create_function

pytestmark = pytest.mark.integration


def test_invoke_returns_the_handlers_answer_and_its_log_tail(lam):
    name = create_function(lam, "echo")
    response = lam.invoke(FunctionName=name, Payload=json.dumps({"hello": "world"}), LogType="Tail")
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read()) == {"hello": "world"}
    assert "echo" in base64.b64decode(response["LogResult"]).decode()


def test_a_raising_handler_reports_its_error_type(lam):
    name = create_function(lam, "raise")
    response = lam.invoke(FunctionName=name, Payload=b"{}")
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "boom"


def test_cold_start_logs_init_duration_then_warm_reuses_the_worker(lam, emulator):
    name = create_function(lam, "echo")
    for _ in range(3):
        lam.invoke(FunctionName=name, Payload=b"{}")
    lines = log_messages(emulator, name, until="REPORT")
    reports = [line for line in log_messages(emulator, name) if line.startswith("REPORT")]
    deadline = time.monotonic() + 5
    while len(reports) < 3 and time.monotonic() < deadline:
        reports = [line for line in log_messages(emulator, name) if line.startswith("REPORT")]
    assert len(reports) == 3, lines
    assert sum("Init Duration" in line for line in reports) == 1
    assert all("Billed Duration" in line and "Max Memory Used" in line for line in reports)


def test_a_handler_that_fails_to_import_reports_an_init_error(lam):
    name = create_function(lam, "import_error")
    response = lam.invoke(FunctionName=name, Payload=b"{}")
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(response["Payload"].read())["errorType"] == "Runtime.ImportModuleError"


def test_an_unknown_function_is_a_404(lam):
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName="no-such-function", Payload=b"{}")
