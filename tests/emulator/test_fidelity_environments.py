"""Fidelity, issue 12 items 3, 4 and 5: a function runs with what it ships (its zip, its layers, AWS's runtime),
not the project's venv; layers are mounted as AWS mounts them; each execution environment has its own /tmp."""

import io
import json
import os
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.emulator.fidelity import ENV_ENDPOINT, emulator_only

pytestmark = pytest.mark.integration

FORGETS_OPENCV = "import cv2\n\ndef lambda_handler(event, context):\n    return cv2.__version__\n"
USES_LAYER = """
import subprocess, helper_mod

def lambda_handler(event, context):
    tool = subprocess.run(["/opt/bin/fakebin"], capture_output=True, text=True).stdout.strip()
    on_path = subprocess.run(["fakebin"], capture_output=True, text=True).stdout.strip()
    return {"helper": helper_mod.VALUE, "tool": tool, "on_path": on_path}
"""
WRITES_FIXED_TMP = """
import time

def lambda_handler(event, context):
    with open("/tmp/shared.txt", "a") as out:
        out.write(context.aws_request_id + "\\n")
    time.sleep(1.0)  # both environments are busy at once, so neither is reused
    with open("/tmp/shared.txt") as written:
        return {"lines": written.read().split()}
"""


def zip_of(files: dict[str, tuple[str, int]]) -> bytes:
    """A zip whose members keep their Unix modes (AWS keeps them: a layer's bin/ tool stays executable)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, (content, mode) in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            archive.writestr(info, content)
    return buffer.getvalue()


def invoke(cloud, arn, event=None, lam=None):
    """`lam`: a client to share between threads (making one is slow, and not safe from two threads at once)."""
    response = (lam or cloud.client("lambda")).invoke(FunctionName=arn, Payload=json.dumps(event or {}).encode())
    return response.get("FunctionError"), json.loads(response["Payload"].read())


def test_a_zip_that_forgets_a_dependency_fails_as_on_aws(cloud):
    arn = cloud.function(FORGETS_OPENCV)
    error, body = invoke(cloud, arn)
    assert error == "Unhandled"
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"] == "Unable to import module 'app': No module named 'cv2'"


def test_the_runtime_provides_boto3_but_not_the_projects_packages(cloud):
    arn = cloud.function("import boto3, importlib.util\n\ndef lambda_handler(event, context):\n"
                         "    return [importlib.util.find_spec(m) is not None for m in ('moto', 'numpy', 'facerec')]\n")
    assert invoke(cloud, arn) == (None, [False, False, False])


@emulator_only
def test_runtimes_the_emulator_cannot_run_are_refused_at_create(cloud):
    lam = cloud.client("lambda")
    with pytest.raises(ClientError) as caught:
        lam.create_function(FunctionName="fidelity-node", Runtime="nodejs20.x", Handler="index.handler",
                            Role=cloud.role_arn, Code={"ZipFile": zip_of({"index.js": ("", 0o644)})})
    error = caught.value.response["Error"]
    assert error["Code"] == "InvalidParameterValueException"
    assert "nodejs20.x" in error["Message"] and "Python" in error["Message"]


def test_a_layer_is_mounted_on_opt_as_aws_mounts_it(cloud):
    layer = cloud.layer(zip_of({"python/helper_mod.py": ("VALUE = 42\n", 0o644),
                                "bin/fakebin": ("#!/bin/sh\necho fake tool\n", 0o755)}))
    arn = cloud.function(USES_LAYER, Layers=[layer])
    assert invoke(cloud, arn) == (None, {"helper": 42, "tool": "fake tool", "on_path": "fake tool"})


WRITES_BESIDE_ITS_CODE = """
import os

def lambda_handler(event, context):
    answers = {}
    for folder in (os.getcwd(), os.environ["LAMBDA_TASK_ROOT"], "/opt", "/tmp"):
        try:
            with open(os.path.join(folder, "written.txt"), "w") as out:
                out.write("x")
            answers[folder] = "written"
        except OSError as error:
            answers[folder] = [error.errno, error.strerror]
    return answers
"""


def test_code_and_layers_are_read_only_and_tmp_is_writable(cloud):
    layer = cloud.layer(zip_of({"python/helper_mod.py": ("VALUE = 1\n", 0o644)}))
    arn = cloud.function(WRITES_BESIDE_ITS_CODE, Layers=[layer])
    error, answers = invoke(cloud, arn)
    read_only = [30, "Read-only file system"]
    assert error is None and answers.pop("/tmp") == "written"
    assert list(answers.values()) == [read_only] * len(answers)


REPORTS_ITS_CLOCK_AND_LOADER = """
import os, time

def lambda_handler(event, context):
    lib = os.path.join(os.environ["LAMBDA_TASK_ROOT"], "lib")
    return {"tz": os.environ["TZ"], "utc_offset": time.localtime().tm_gmtoff,
            "task_lib_on_loader_path": lib in os.environ["LD_LIBRARY_PATH"].split(":")}
"""


def test_functions_run_in_utc_with_the_task_roots_lib_on_the_loader_path(cloud):
    arn = cloud.function(REPORTS_ITS_CLOCK_AND_LOADER)
    assert invoke(cloud, arn) == (None, {"tz": ":UTC", "utc_offset": 0, "task_lib_on_loader_path": True})


def test_a_function_may_set_its_own_time_zone(cloud):
    _, answer = invoke(cloud, cloud.function(REPORTS_ITS_CLOCK_AND_LOADER, env={"TZ": "Asia/Tokyo"}))
    assert (answer["tz"], answer["utc_offset"]) == ("Asia/Tokyo", 9 * 3600)


def test_each_environment_has_its_own_tmp(cloud):
    host_file = Path("/tmp/shared.txt")
    before = host_file.read_bytes() if host_file.exists() else None
    arn, lam = cloud.function(WRITES_FIXED_TMP), cloud.client("lambda")
    with ThreadPoolExecutor(2) as pool:  # the two invokes arrive together, so neither environment is free for the other
        answers = [body for _, body in pool.map(lambda _: invoke(cloud, arn, lam=lam), range(2))]
    assert [len(a["lines"]) for a in answers] == [1, 1]  # each saw only its own line
    assert answers[0]["lines"] != answers[1]["lines"]
    if ENV_ENDPOINT not in os.environ:  # the embedded emulator's host is this machine: its /tmp is untouched
        assert (host_file.read_bytes() if host_file.exists() else None) == before


def test_the_code_is_at_var_task_and_no_host_path_shows(cloud):
    source = ("import os, traceback\n\ndef lambda_handler(event, context):\n"
              "    try:\n        raise ValueError('where')\n"
              "    except ValueError:\n        trace = traceback.format_exc()\n"
              "    return {'root': os.environ['LAMBDA_TASK_ROOT'], 'cwd': os.getcwd(), 'file': __file__,\n"
              "            'own_code': open('/var/task/app.py').read().startswith('import os'), 'trace': trace}\n")
    answer = json.loads(cloud.client("lambda").invoke(FunctionName=cloud.function(source))["Payload"].read())
    assert (answer["root"], answer["cwd"], answer["file"], answer["own_code"]) == (
        "/var/task", "/var/task", "/var/task/app.py", True)
    assert 'File "/var/task/app.py"' in answer["trace"]




def test_the_handler_starts_with_less_than_its_whole_timeout_left(cloud):
    """Lambda's deadline counts from the Invoke request's arrival, so a handler (cold or warm) never sees the whole
    Timeout left: https://docs.aws.amazon.com/lambda/latest/dg/python-context.html"""
    arn = cloud.function("def lambda_handler(event, context):\n    return context.get_remaining_time_in_millis()\n",
                         Timeout=3)
    left = [invoke(cloud, arn)[1] for _ in range(5)]
    assert all(0 < millis < 3000 for millis in left), left
