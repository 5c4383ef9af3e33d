"""The stack comes from template.yaml: outputs, S3 wiring, seeded table, the S3 -> function path."""

import json
import time

import pytest

from tests.conftest import FIXTURES
from tests.emulator.conftest import log_messages

pytestmark = pytest.mark.integration

REQUIRED = {"VideosBucket", "FramesBucket", "ModelsBucket", "ResultsQueueUrl", "DeadLetterQueueUrl",
            "StudentsTable", "FrameExtractorFunction", "FaceClassifierFunction"}


def test_outputs_name_every_resource_the_device_and_grader_need(emulator):
    assert set(emulator.outputs) >= REQUIRED
    stack = emulator.client("cloudformation").describe_stacks(StackName="facepipe")["Stacks"][0]
    assert {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]} == emulator.outputs


def test_functions_carry_the_templates_settings(emulator):
    lam = emulator.client("lambda")
    config = lam.get_function(FunctionName=emulator.outputs["FaceClassifierFunction"])["Configuration"]
    assert config["Handler"] == "app.lambda_handler"
    assert config["Timeout"] == 60
    assert config["Environment"]["Variables"]["STUDENTS_TABLE"] == emulator.outputs["StudentsTable"]


def test_the_students_table_is_seeded_from_the_course_data(emulator):
    records = json.loads((FIXTURES / "student_data.json").read_text())
    dynamodb = emulator.client("dynamodb")
    item = dynamodb.get_item(TableName=emulator.outputs["StudentsTable"], Key={"name": {"S": "mr_bean"}})["Item"]
    assert item["major"]["S"] == "lawyer"
    count = dynamodb.scan(TableName=emulator.outputs["StudentsTable"], Select="COUNT")["Count"]
    assert count == len(records)


def test_a_clip_put_under_videos_runs_the_frame_extractor_which_writes_its_frames(emulator):
    """The S3 notification reaches the function (how fast: `make bench-emulator`, S3 put -> handler start)."""
    s3, bucket = emulator.client("s3"), emulator.outputs["VideosBucket"]
    clip = (FIXTURES / "videos" / "test_0.mp4").read_bytes()
    s3.put_object(Bucket=bucket, Key="videos/dev1/x.mp4", Body=clip)
    deadline = time.monotonic() + 60  # only bounds a failure
    while not (frames := s3.list_objects_v2(Bucket=bucket, Prefix="frames/dev1/x/").get("Contents")):
        assert time.monotonic() < deadline, "the frame extractor wrote no frame"
        time.sleep(0.1)
    assert frames[0]["Key"].endswith(".png")
    function = emulator.outputs["FrameExtractorFunction"]
    assert any(line.startswith("START") for line in log_messages(emulator, function, until="START"))
