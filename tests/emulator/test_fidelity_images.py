"""Fidelity, issue 12 items 2 and 4: image functions run from their Dockerfile (no Docker), other Python runtimes
run on their own interpreter, and a student project written the course's way runs unchanged.

These need the emulator started with an ImageUri -> Dockerfile map (EMULATOR_IMAGES), so they use an emulator of
their own (no stack), and are emulator-only: on AWS the image would have to be built and pushed first.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, start_emulator
from tests.emulator.test_fidelity_environments import zip_of

pytestmark = pytest.mark.integration

REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
SPLITTER_URI = f"{REGISTRY}/video-splitting:latest"
AL2_NUMPY_URI = f"{REGISTRY}/al2-numpy:latest"
# numpy 2.4.6's wheel needs GLIBC_2.27; AWS's python3.11 base image is Amazon Linux 2 (glibc 2.26)
AL2_NUMPY_DOCKERFILE = """\
FROM public.ecr.aws/lambda/python:3.11
RUN pip install numpy==2.4.6
COPY app.py ${LAMBDA_TASK_ROOT}
CMD [ "app.lambda_handler" ]
"""
PYTHON312 = sorted(Path.home().glob(".pyenv/versions/3.12*/bin/python3.12"))
MANAGED_POLICY = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"

# The course's Dockerfile, as students copy it: a plain Python base, awslambdaric, the handler in /home/app.
COURSE_DOCKERFILE = """\
ARG FUNCTION_DIR="/home/app/"
FROM python:3.11-slim
ARG FUNCTION_DIR
RUN apt-get update && apt-get install -y ffmpeg
RUN mkdir -p ${FUNCTION_DIR}
COPY requirements.txt ${FUNCTION_DIR}
COPY handler.py ${FUNCTION_DIR}
WORKDIR ${FUNCTION_DIR}
RUN pip install --no-cache-dir -r requirements.txt --target ${FUNCTION_DIR}
ENV STAGE_SUFFIX=-stage-1
ENTRYPOINT [ "/usr/local/bin/python", "-m", "awslambdaric" ]
CMD [ "handler.handler" ]
"""
SPLITTER = """\
import json, os, boto3
from urllib.parse import unquote_plus

s3 = boto3.client("s3")
lam = boto3.client("lambda")

def handler(event, context):
    record = event["Records"][0]["s3"]
    bucket, key = record["bucket"]["name"], unquote_plus(record["object"]["key"])
    s3.download_file(bucket, key, "/tmp/video.mp4")  # the course's fixed /tmp paths
    with open("/tmp/video.mp4", "rb") as video, open("/tmp/frame.txt", "w") as frame:
        frame.write(video.read().decode().upper())
    stage = bucket.replace("-input", os.environ["STAGE_SUFFIX"])
    s3.upload_file("/tmp/frame.txt", stage, key + ".frame")
    lam.invoke(FunctionName="face-recognition", InvocationType="Event",
               Payload=json.dumps({"bucket": stage, "key": key + ".frame"}))
"""
RECOGNISER = """\
import boto3, helper_mod

s3 = boto3.client("s3")

def lambda_handler(event, context):
    s3.download_file(event["bucket"], event["key"], "/tmp/frame.txt")
    with open("/tmp/frame.txt") as frame, open("/tmp/result.txt", "w") as result:
        result.write(helper_mod.recognise(frame.read()))
    output = event["bucket"].replace("-stage-1", "-output")
    s3.upload_file("/tmp/result.txt", output, event["key"].split("/")[-1] + ".txt")
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """The student's project folder: the image function's build context."""
    folder = tmp_path_factory.mktemp("student")
    (folder / "Dockerfile").write_text(COURSE_DOCKERFILE)
    (folder / "requirements.txt").write_text("awslambdaric\nboto3\n")
    (folder / "handler.py").write_text(SPLITTER)
    (folder / "al2").mkdir()
    (folder / "al2" / "Dockerfile").write_text(AL2_NUMPY_DOCKERFILE)
    (folder / "al2" / "app.py").write_text("import numpy\n\ndef lambda_handler(event, context):\n    return 1\n")
    return folder


@pytest.fixture(scope="module")
def emulator(tmp_path_factory, project):
    images = {SPLITTER_URI: project / "Dockerfile", AL2_NUMPY_URI: project / "al2" / "Dockerfile"}
    env = {"EMULATOR_IMAGES": ",".join(f"{uri}={dockerfile}" for uri, dockerfile in images.items())}
    if PYTHON312:
        env["PATH"] = f"{PYTHON312[-1].parent}:{Path(sys.executable).parent}:/usr/bin:/bin"
    running = start_emulator(tmp_path_factory.mktemp("images"), "--no-stack", env=env)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def role(emulator):
    iam = emulator.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": "lambda.amazonaws.com"}}]}
    arn = iam.create_role(RoleName="student-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.attach_role_policy(RoleName="student-role", PolicyArn=MANAGED_POLICY)
    return arn


def test_an_image_function_runs_from_its_dockerfile(emulator, role):
    lam = emulator.client("lambda")
    lam.create_function(FunctionName="image-echo", PackageType="Image", Code={"ImageUri": SPLITTER_URI}, Role=role,
                        ImageConfig={"Command": ["probe.handler"]}, Timeout=30)
    response = lam.invoke(FunctionName="image-echo", Payload=b"{}")
    body = json.loads(response["Payload"].read())
    # ImageConfig.Command overrides CMD: the module is not in the image, as it would not be on AWS
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"] == "Unable to import module 'probe': No module named 'probe'"


def test_an_unmapped_image_is_refused_naming_how_to_map_it(emulator, role):
    lam = emulator.client("lambda")
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as caught:
        lam.create_function(FunctionName="unmapped", PackageType="Image", Role=role,
                            Code={"ImageUri": f"{REGISTRY}/nobody:1"})
    assert "EMULATOR_IMAGES" in str(caught.value) and "--image" in str(caught.value)


@pytest.mark.skipif(not PYTHON312, reason="no Python 3.12 interpreter on this machine")
def test_a_python312_function_runs_on_python312(emulator, role):
    lam = emulator.client("lambda")
    source = "import sys\n\ndef lambda_handler(event, context):\n    return list(sys.version_info[:2])\n"
    lam.create_function(FunctionName="py312", Runtime="python3.12", Handler="app.lambda_handler", Role=role,
                        Code={"ZipFile": zip_of({"app.py": (source, 0o644)})}, Timeout=30)
    assert json.loads(lam.invoke(FunctionName="py312", Payload=b"{}")["Payload"].read()) == [3, 12]


def test_a_student_project_runs_unchanged(emulator, role, project):
    """S3 -> image function (fixed /tmp paths) -> async Lambda-to-Lambda -> zip function with a layer -> S3."""
    s3, lam = emulator.client("s3"), emulator.client("lambda")
    for suffix in ("input", "stage-1", "output"):
        s3.create_bucket(Bucket=f"1234-{suffix}")
    layer = lam.publish_layer_version(LayerName="helpers", Content={"ZipFile": zip_of({
        "python/helper_mod.py": ("def recognise(frame):\n    return 'person:' + frame.strip()\n", 0o644)})})
    splitter = lam.create_function(FunctionName="video-splitting", PackageType="Image", Role=role, Timeout=30,
                                   Code={"ImageUri": SPLITTER_URI})["FunctionArn"]
    lam.create_function(FunctionName="face-recognition", Runtime="python3.11", Handler="app.lambda_handler",
                        Role=role, Code={"ZipFile": zip_of({"app.py": (RECOGNISER, 0o644)})}, Timeout=30,
                        Layers=[layer["LayerVersionArn"]])
    lam.add_permission(FunctionName=splitter, StatementId="s3-input", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::1234-input")
    s3.put_bucket_notification_configuration(Bucket="1234-input", NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": splitter, "Events": ["s3:ObjectCreated:*"]}]})
    for name in ("alice", "bob"):
        s3.put_object(Bucket="1234-input", Key=f"videos/{name}.mp4", Body=name.encode())
    results = {}
    deadline = time.monotonic() + 60
    while len(results) < 2 and time.monotonic() < deadline:
        for item in s3.list_objects_v2(Bucket="1234-output").get("Contents", []):
            results[item["Key"]] = s3.get_object(Bucket="1234-output", Key=item["Key"])["Body"].read().decode()
        time.sleep(0.2)
    assert results == {"alice.mp4.frame.txt": "person:ALICE", "bob.mp4.frame.txt": "person:BOB"}
    assert not (project / "frame.txt").exists()


def test_status_reports_what_the_dockerfile_asked_that_was_not_done(emulator):
    status = subprocess.run([sys.executable, "-m", "emulator", "status"], capture_output=True, text=True, cwd=ROOT,
                            env={"EMULATOR_STATE_DIR": str(emulator.state_dir), "PATH": "/usr/bin:/bin"}, check=True)
    assert "private /tmp: mount namespace per environment" in status.stdout
    assert "not honoured: RUN apt-get install -y ffmpeg" in status.stdout



def test_a_package_pip_would_not_install_on_the_aws_base_image_is_reported(emulator, role):
    """The emulator installs numpy 2.4.6 from its wheelhouse; in public.ecr.aws/lambda/python:3.11 (Amazon Linux 2,
    glibc 2.26) that wheel needs GLIBC_2.27: the function's log group says so."""
    lam = emulator.client("lambda")
    lam.create_function(FunctionName="al2-numpy", PackageType="Image", Code={"ImageUri": AL2_NUMPY_URI}, Role=role)
    lam.get_waiter("function_active_v2").wait(FunctionName="al2-numpy")
    logs = emulator.client("logs")
    logs.create_log_group(logGroupName="/aws/lambda/al2-numpy")  # as a template's LogGroup for it, or its first log
    deadline = time.monotonic() + 60
    while True:
        found = logs.filter_log_events(logGroupName="/aws/lambda/al2-numpy", filterPattern="PLATFORM")["events"]
        if found or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    messages = [event["message"] for event in found]
    assert any(m.startswith("PLATFORM: installed by the image's pip: numpy/") and "GLIBC_2.27" in m
               for m in messages), messages
