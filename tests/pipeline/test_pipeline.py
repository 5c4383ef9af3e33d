"""The whole path: clip -> frame extractor -> frames/ -> classifier -> FIFO result, on the stack under test.

Every result is validated by the contract's model as it arrives (tests/pipeline/conftest.py ResultCollector).
"""

import json

import cv2
import numpy as np
import pytest

from contract import Result, clip_metadata, frame_key, utc_stamp
from tests.conftest import FIXTURES
from tests.pipeline.conftest import LABELS, STUDENTS, new_device, put_frame, upload_clip

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("video", ["test_2.mp4", "test_6.mp4"])
def test_a_clip_comes_back_as_the_right_person_with_major_and_year(stack, results, video):
    device = new_device()
    clip_key = upload_clip(stack, device, video)
    [result] = results.wait_for(device)
    person = LABELS[video]
    assert result["status"] == "recognized", result
    assert result["clip_key"] == clip_key
    assert result["name"] == person
    assert result["student"] == {k: STUDENTS[person][k] for k in ("name", "major", "year")}
    assert result["frame_key"] == f"frames/{device}/{clip_key.split('/')[-1][:-4]}/0000.png"
    assert result["model_version"]


def test_a_clip_uploaded_without_metadata_gets_valid_results(stack, results):
    device = new_device()
    key = f"videos/{device}/2026-11-26T23:59:59.123Z.mp4"
    stack.client("s3").put_object(Bucket=stack.outputs["VideosBucket"], Key=key,  # as `aws s3 cp` does
                                  Body=(FIXTURES / "videos" / "test_2.mp4").read_bytes())
    [result] = results.wait_for(device)
    assert Result.from_dict(result).status == "recognized"
    assert result["captured_at"] == "2026-11-26T23:59:59.123Z"
    assert result["uploaded_at"] > result["captured_at"]


def test_a_frame_without_a_face_says_so(stack, results):
    device = new_device()
    put_frame(stack, device, cv2.imencode(".png", np.full((480, 640, 3), 127, np.uint8))[1].tobytes())
    [result] = results.wait_for(device)
    assert result["status"] == "no_face"
    assert result["name"] is None and result["student"] is None and result["reason"]


def test_a_frame_that_is_not_an_image_is_a_bad_frame_result(stack, results):
    device = new_device()
    put_frame(stack, device, b"this is not a png")
    [result] = results.wait_for(device)
    assert result["status"] == "bad_frame"
    assert "not a usable image" in result["reason"]


def test_the_same_s3_event_twice_yields_one_result(stack, results):
    device = new_device()
    capture = cv2.VideoCapture(str(FIXTURES / "videos" / "test_0.mp4"))
    _, frame = capture.read()
    capture.release()
    key = frame_key(device, utc_stamp(), 0)
    for _ in range(2):
        stack.client("s3").put_object(Bucket=stack.outputs["FramesBucket"], Key=key,
                                      Body=cv2.imencode(".png", frame)[1].tobytes(),
                                      Metadata=clip_metadata(device, utc_stamp()))
    first = results.wait_for(device, count=1)
    assert len(results.wait_for(device, count=2, timeout=4)) == 1
    assert first[0]["frame_key"] == key


def test_a_consumer_that_dies_before_deleting_loses_no_result(stack, results):
    sqs = stack.client("sqs")
    queue = stack.outputs["ResultsQueueUrl"]
    device = new_device()
    with results.paused():
        upload_clip(stack, device, "test_7.mp4")
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
