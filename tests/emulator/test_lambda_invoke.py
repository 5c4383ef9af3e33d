"""Synchronous Invoke through the Lambda API runs the real handler in an awslambdaric worker."""

import base64
import json

import pytest

from tests.emulator.functions import create_function

pytestmark = pytest.mark.integration


def test_invoke_returns_the_handlers_answer_and_its_log_tail(lam):
    name = create_function(lam, "echo")
    response = lam.invoke(FunctionName=name, Payload=json.dumps({"hello": "world"}), LogType="Tail")
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read()) == {"hello": "world"}
    tail = base64.b64decode(response["LogResult"]).decode().splitlines()
    assert tail[0].startswith("START RequestId: ")
    assert any(line.startswith("echo ") for line in tail)
    assert tail[-2].startswith("END RequestId: ") and tail[-1].startswith("REPORT RequestId: ")


def test_a_raising_handler_reports_its_error_type(lam):
    name = create_function(lam, "raise")
    response = lam.invoke(FunctionName=name, Payload=b"{}")
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "boom"


def test_a_handler_that_fails_to_import_reports_an_init_error(lam):
    name = create_function(lam, "import_error")
    response = lam.invoke(FunctionName=name, Payload=b"{}")
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(response["Payload"].read())["errorType"] == "Runtime.ImportModuleError"


def test_an_unknown_function_is_a_404(lam):
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName="no-such-function", Payload=b"{}")


def test_functions_whose_handlers_have_the_same_size_each_run_their_own(lam):
    """All code is at /var/task: under `make test` (one PYTHONPYCACHEPREFIX for every process) a .pyc cached for one
    function's app.py was taken as current for another's of the same size unpacked in the same second."""
    names = [create_function(lam, kind) for kind in ("first", "other")]  # handlers of the same size
    answers = [json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read()) for name in names]
    assert answers == ["first", "other"]
