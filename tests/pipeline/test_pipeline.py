"""The whole path through the emulator: clip -> frame extractor -> frames/ -> classifier -> FIFO result."""

import json

import cv2
import numpy as np
import pytest

from tests.conftest import FIXTURES
from tests.pipeline.conftest import LABELS, STUDENTS, new_device, stamp, upload_clip

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("video", ["test_2.mp4", "test_6.mp4"])
def test_a_clip_comes_back_as_the_right_person_with_major_and_year(emulator, results, video):
    device = new_device()
    clip_key = upload_clip(emulator, device, video)
    [result] = results.wait_for(device)
    person = LABELS[video]
    assert result["status"] == "recognized", result
    assert result["clip_key"] == clip_key
    assert result["name"] == person
    assert result["student"] == {k: STUDENTS[person][k] for k in ("name", "major", "year")}
    assert result["frame_key"] == f"frames/{device}/{clip_key.split('/')[-1][:-4]}/0000.png"
    assert result["captured_at"] and result["uploaded_at"] and result["classified_at"]
    assert result["model_version"]


def _put_frame(emulator, device, body):
    key = f"frames/{device}/{stamp()}/0000.png"
    emulator.client("s3").put_object(Bucket=emulator.outputs["FramesBucket"], Key=key, Body=body,
                                     Metadata={"device-id": device, "captured-at": stamp(), "uploaded-at": stamp()})
    return key


def test_a_frame_without_a_face_says_so(emulator, results):
    device = new_device()
    _put_frame(emulator, device, cv2.imencode(".png", np.full((480, 640, 3), 127, np.uint8))[1].tobytes())
    [result] = results.wait_for(device)
    assert result["status"] == "no_face"
    assert result["name"] is None and result["student"] is None and result["reason"]


def test_a_frame_that_is_not_an_image_is_a_bad_frame_result(emulator, results):
    device = new_device()
    _put_frame(emulator, device, b"this is not a png")
    [result] = results.wait_for(device)
    assert result["status"] == "bad_frame"
    assert "not a usable image" in result["reason"]


def test_the_same_s3_event_twice_yields_one_result(emulator, results):
    device = new_device()
    capture = cv2.VideoCapture(str(FIXTURES / "videos" / "test_0.mp4"))
    _, frame = capture.read()
    capture.release()
    _, png = cv2.imencode(".png", frame)
    key = f"frames/{device}/{stamp()}/0000.png"
    s3 = emulator.client("s3")
    for _ in range(2):
        s3.put_object(Bucket=emulator.outputs["FramesBucket"], Key=key, Body=png.tobytes(),
                      Metadata={"device-id": device, "captured-at": stamp(), "uploaded-at": stamp()})
    first = results.wait_for(device, count=1)
    assert len(results.wait_for(device, count=2, timeout=4)) == 1
    assert first[0]["frame_key"] == key


def test_a_person_missing_from_the_table_is_not_enrolled(emulator, results):
    dynamodb = emulator.client("dynamodb")
    table = emulator.outputs["StudentsTable"]
    record = dynamodb.get_item(TableName=table, Key={"name": {"S": "floki"}})["Item"]
    dynamodb.delete_item(TableName=table, Key={"name": {"S": "floki"}})
    try:
        device = new_device()
        upload_clip(emulator, device, "test_6.mp4")
        [result] = results.wait_for(device)
    finally:
        dynamodb.put_item(TableName=table, Item=record)
    assert result["status"] == "not_enrolled"
    assert result["name"] == "floki" and result["student"] is None
    assert "not in the students table" in result["reason"]


def test_results_are_json_with_the_contract_fields(emulator, results):
    device = new_device()
    upload_clip(emulator, device, "test_0.mp4")
    [result] = results.wait_for(device)
    json.dumps(result)
    for field in ("schema", "device_id", "clip_key", "frame_key", "frame_index", "face_index", "status", "name",
                  "confidence", "box", "student", "reason", "model_version", "captured_at", "uploaded_at",
                  "classified_at", "timings_ms"):
        assert field in result


def test_a_consumer_that_dies_before_deleting_loses_no_result(emulator, results):
    sqs = emulator.client("sqs")
    queue = emulator.outputs["ResultsQueueUrl"]
    device = new_device()
    with results.paused():
        upload_clip(emulator, device, "test_7.mp4")
        received = []
        for _ in range(30):
            received += sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                            VisibilityTimeout=2).get("Messages", [])
            if any(json.loads(m["Body"])["device_id"] == device for m in received):
                break
        assert any(json.loads(m["Body"])["device_id"] == device for m in received)
        # the "consumer" dies here: nothing was deleted
    [redelivered] = results.wait_for(device, timeout=15)
    assert redelivered["name"] == LABELS["test_7.mp4"]
