"""A submission that gives a SAM template (not a command) is deployed by our SAM deploy, run as its deploy command
(jailed when the grader is root): the stack lands in the submission's own account, its code and its layer zipped
from the submission's folder (its jailed copy), and no other account sees it. The jail's own tests are in
test_class_deploy_jail.py; this one shows a template deploy works inside it."""

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from grader.classroom.deploy_jail import ClassFolders
from grader.classroom.manifest import load_manifest
from grader.classroom.settings import ClassSettings, account_id
from grader.classroom.submission import deploy
from tests.conftest import RunningEmulator, start_emulator

ACCOUNT = account_id(11)
TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Media:
    Type: AWS::S3::Bucket
  Results:
    Type: AWS::SQS::Queue
    Properties:
      FifoQueue: true
      QueueName: !Sub "${AWS::StackName}-results.fifo"
  Dead:
    Type: AWS::SQS::Queue
  Students:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: name, AttributeType: S}]
      KeySchema: [{AttributeName: name, KeyType: HASH}]
  Extractor:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: src/, Handler: app.handler, Runtime: python3.11}
  Shared:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: layer/, CompatibleRuntimes: [python3.11]}
  Classifier:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: src/, Handler: app.handler, Runtime: python3.11, Layers: [!Ref Shared]}
Outputs:
  VideosBucket: {Value: !Ref Media}
  FramesBucket: {Value: !Ref Media}
  ModelsBucket: {Value: !Ref Media}
  ResultsQueueUrl: {Value: !Ref Results}
  DeadLetterQueueUrl: {Value: !Ref Dead}
  StudentsTable: {Value: !Ref Students}
  FrameExtractorFunction: {Value: !Ref Extractor}
  FaceClassifierFunction: {Value: !Ref Classifier}
"""
MANIFEST = """\
student = "samuser"
[deploy]
template = "template.yaml"
stack_name = "samstack"
seed = false
"""


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    running = start_emulator(tmp_path_factory.mktemp("template-deploy"), "--no-stack")
    yield running
    running.stop()


@pytest.fixture
def open_class() -> Iterator[Path]:
    """A class folder the account's uid can pass through (mode 0755), holding the one template submission."""
    work = Path(tempfile.mkdtemp(prefix="template-class-"))
    work.chmod(0o755)
    folder = work / "root/samuser"
    (folder / "src").mkdir(parents=True)
    (folder / "grading.toml").write_text(MANIFEST)
    (folder / "template.yaml").write_text(TEMPLATE)
    (folder / "src/app.py").write_text("def handler(event, context):\n    import helper\n    return helper.VALUE\n")
    (folder / "layer/python").mkdir(parents=True)
    (folder / "layer/python/helper.py").write_text('VALUE = "from the layer"\n')
    yield work
    shutil.rmtree(work, ignore_errors=True)


def cloudformation(endpoint: RunningEmulator, key: str) -> object:
    return boto3.client("cloudformation", endpoint_url=endpoint.endpoint, region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key="x")


def test_a_template_submission_is_deployed_as_a_stack_in_its_own_account(endpoint: RunningEmulator,
                                                                         open_class: Path) -> None:
    folder, out = open_class / "root/samuser", open_class / "out/samuser"
    folders = ClassFolders((open_class / "root", open_class / "out"), ())
    result = deploy(load_manifest(folder), folder, out, ACCOUNT, endpoint.endpoint, ClassSettings(deploy_timeout=120),
                    folders)
    log = (out / "deploy.log").read_text()
    assert result.ok, log
    printed = json.loads(log[log.index("{"):log.rindex("}") + 1])
    outputs = {o["OutputKey"]: o["OutputValue"] for o in
               cloudformation(endpoint, ACCOUNT).describe_stacks(StackName="samstack")["Stacks"][0]["Outputs"]}
    assert printed == outputs and len(outputs) == 8
    lam = boto3.client("lambda", endpoint_url=endpoint.endpoint, region_name="us-east-1",
                       aws_access_key_id=ACCOUNT, aws_secret_access_key="x")
    classifier = outputs["FaceClassifierFunction"]
    assert lam.get_function(FunctionName=classifier)["Configuration"]["FunctionArn"].split(":")[4] == ACCOUNT
    lam.get_waiter("function_active_v2").wait(FunctionName=classifier, WaiterConfig={"Delay": 1})
    answer = lam.invoke(FunctionName=classifier, Payload=b"{}")  # its layer, zipped from the folder, is in /opt
    assert "FunctionError" not in answer and json.loads(answer["Payload"].read()) == "from the layer"
    other = cloudformation(endpoint, account_id(12))
    with pytest.raises(other.exceptions.ClientError, match="does not exist"):
        other.describe_stacks(StackName="samstack")
