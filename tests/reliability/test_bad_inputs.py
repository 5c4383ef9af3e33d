"""Bad input catalogue through the emulator: each has a defined outcome (a result saying what was wrong, or a
DLQ entry with the reason), and the same device's next good clip still comes back right."""

import json
import shutil
import struct
import time
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from urllib.parse import quote_plus

import cv2
import numpy as np
import pytest
from botocore.exceptions import ClientError

from contract import utc_stamp
from facerec.model import content_version
from facerec.store import publish_model
from tests.conftest import FIXTURES
from tests.emulator.conftest import log_messages
from tests.emulator.functions import create_function
from tests.pipeline.conftest import LABELS, new_device, put_frame
from tests.reliability.conftest import (
    FIVE,
    GOOD_VIDEO,
    LogTail,
    assert_good_clip_answered,
    collage,
    first_frame,
    make_video,
    png,
    put_clip,
    wait_for_results,
)

pytestmark = pytest.mark.integration

GOOD_BYTES = (FIXTURES / "videos" / GOOD_VIDEO).read_bytes()
MAX_CLIP_BYTES = 50 * 1024 * 1024  # lambdas/frame_extractor/frames.py Limits.max_bytes

UNUSABLE_CLIPS = {
    "empty object": (lambda tmp: b"", "the clip is 0 bytes"),
    "text renamed .mp4": (lambda tmp: b"not a video\n" * 40, "not a readable video"),
    "MP4 cut before its first frame": (lambda tmp: GOOD_BYTES[:20_000], "no frame could be decoded"),
    "video of 0 frames": (lambda tmp: make_video(tmp / "zero.mp4", (64, 48), 10, 0), "not a readable video"),
    "60 s video": (lambda tmp: make_video(tmp / "long.mp4", (64, 48), 10, 600), "60.0 s, over the 30 s limit"),
    "8000x4800 video": (lambda tmp: make_video(tmp / "big.avi", (8000, 4800), 5, 1, "MJPG"), "pixel frame limit"),
}


@pytest.mark.parametrize("case", UNUSABLE_CLIPS)
def test_an_unusable_clip_goes_once_to_the_dlq_with_the_reason(emulator, results, dead_letters, tmp_path, case):
    make, reason = UNUSABLE_CLIPS[case]
    device = new_device()
    key = put_clip(emulator, device, make(tmp_path))
    assert_good_clip_answered(emulator, results, device)
    [letter] = dead_letters.wait_for(key)
    assert letter.error_code == "BadClip"
    assert reason in letter.error_message
    assert wait_for_results(results, device, "clip_key", key, timeout=0) == []


def test_a_clip_over_the_size_limit_is_refused_without_being_read(emulator, results, dead_letters):
    device = new_device()
    key = put_clip(emulator, device, bytes(MAX_CLIP_BYTES + 1))
    try:
        [letter] = dead_letters.wait_for(key)
    finally:
        emulator.client("s3").delete_object(Bucket=emulator.outputs["VideosBucket"], Key=key)
    assert (letter.error_code, letter.error_message) == (
        "BadClip", f"the clip is {MAX_CLIP_BYTES + 1} bytes; a clip must be 1 byte to {MAX_CLIP_BYTES} bytes")
    assert_good_clip_answered(emulator, results, device)


def test_a_clip_cut_mid_stream_is_answered_from_the_frames_before_the_cut(emulator, results):
    device = new_device()
    key = put_clip(emulator, device, GOOD_BYTES[: len(GOOD_BYTES) // 2])
    [result] = wait_for_results(results, device, "clip_key", key)
    assert result["name"] == LABELS[GOOD_VIDEO]
    assert_good_clip_answered(emulator, results, device)


def test_a_4k_clip_is_answered_from_a_frame_scaled_down_to_the_limit(emulator, results, tmp_path):
    device = new_device()
    key = put_clip(emulator, device, make_video(tmp_path / "4k.mp4", (3840, 2160), 12, 6))
    [result] = wait_for_results(results, device, "clip_key", key)
    assert result["name"] == LABELS[GOOD_VIDEO]
    body = emulator.client("s3").get_object(Bucket=emulator.outputs["FramesBucket"], Key=result["frame_key"])["Body"]
    frame = cv2.imdecode(np.frombuffer(body.read(), np.uint8), cv2.IMREAD_COLOR)
    assert frame.shape[:2] == (720, 1280)  # FRAME_MAX_SIDE
    assert_good_clip_answered(emulator, results, device)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header promises width x height RGB pixels, followed by a few junk bytes."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", b"junk")


def _grey(width: int = 640, height: int = 480) -> np.ndarray:
    return np.full((height, width, 3), 128, np.uint8)


def _tiny_face(crops) -> bytes:
    image = _grey()
    image[200:210, 300:310] = cv2.resize(crops[LABELS[GOOD_VIDEO]], (10, 10), interpolation=cv2.INTER_AREA)
    return png(image)


BAD_FRAMES = {
    "a .png that is not an image": (lambda crops: b"this is not a png", "bad_frame", "not a usable image"),
    "a PNG with a corrupt body": (lambda crops: png(first_frame(GOOD_VIDEO))[:300], "bad_frame", "could not decode"),
    "a PNG declaring 100000x100000": (lambda crops: _png_declaring(100_000, 100_000), "bad_frame", "would decode to"),
    "a frame with no face": (lambda crops: png(_grey()), "no_face", "no face found"),
    "a frame with a 10x10 px face": (_tiny_face, "no_face", "no face found"),
}


@pytest.mark.parametrize("case", BAD_FRAMES)
def test_a_frame_without_a_usable_face_gets_a_result_saying_why(emulator, results, face_crops, case):
    make, status, reason = BAD_FRAMES[case]
    device = new_device()
    key = put_frame(emulator, device, make(face_crops))
    [result] = wait_for_results(results, device, "frame_key", key)
    assert (result["status"], result["face_index"], result["name"], result["student"]) == (status, None, None, None)
    assert reason in result["reason"]
    assert_good_clip_answered(emulator, results, device)


def test_five_faces_give_five_results_indexed_0_to_4(emulator, results, face_crops):
    device = new_device()
    key = put_frame(emulator, device, png(collage([face_crops[p] for p in FIVE])))
    found = wait_for_results(results, device, "frame_key", key, count=5)
    assert sorted(r["face_index"] for r in found) == [0, 1, 2, 3, 4]
    assert sorted(r["name"] for r in found) == sorted(FIVE)
    assert all(r["status"] == "recognized" and r["student"]["name"] == r["name"] for r in found)
    assert_good_clip_answered(emulator, results, device)


def test_more_faces_than_one_sqs_batch_holds_all_arrive_each_message_small(emulator, results, face_crops):
    device = new_device()
    people = (list(face_crops) * 2)[:12]
    key = put_frame(emulator, device, png(collage([face_crops[p] for p in people], side=150, columns=6)))
    found = wait_for_results(results, device, "frame_key", key, count=12)
    assert sorted(r["face_index"] for r in found) == list(range(12))
    assert max(len(json.dumps(r)) for r in found) < 4096  # far under SQS's 256 KiB per message and per batch
    assert_good_clip_answered(emulator, results, device)


def test_a_person_missing_from_the_table_is_not_enrolled_then_found_again(emulator, results):
    dynamodb, table = emulator.client("dynamodb"), emulator.outputs["StudentsTable"]
    person = LABELS[GOOD_VIDEO]
    record = dynamodb.get_item(TableName=table, Key={"name": {"S": person}})["Item"]
    dynamodb.delete_item(TableName=table, Key={"name": {"S": person}})
    device = new_device()
    try:
        key = put_clip(emulator, device, GOOD_BYTES)
        [result] = wait_for_results(results, device, "clip_key", key)
    finally:
        dynamodb.put_item(TableName=table, Item=record)
    assert (result["status"], result["name"], result["student"]) == ("not_enrolled", person, None)
    assert f"{person} is not in the students table" in result["reason"]
    assert_good_clip_answered(emulator, results, device)


ODD_KEYS = {
    "space": "videos/{device}/2026-11-27 00:00:00.000Z.mp4",
    "unicode": "videos/{device}/été-2026.mp4",
    "percent": "videos/{device}/100%25 sure.mp4",
    "dot-dot": "videos/{device}/../../../../tmp/escaped.mp4",
    "space in the device id": "videos/{device} 2/2026-11-27T00:00:00.000Z.mp4",
}


@pytest.mark.parametrize("case", ODD_KEYS)
def test_a_key_that_is_no_clip_key_is_dead_lettered_under_its_exact_name(emulator, results, dead_letters, case):
    device = new_device()
    key = put_clip(emulator, device, GOOD_BYTES, key=ODD_KEYS[case].format(device=device))
    [letter] = dead_letters.wait_for(key)
    assert letter.error_code == "BadClip"
    assert f"clip key {key!r} is not videos/<device-id>/<timestamp>.mp4" == letter.error_message
    assert_good_clip_answered(emulator, results, device)


def test_a_plus_in_a_clip_key_survives_the_s3_event_encoding(emulator, results):
    device = new_device()
    key = put_clip(emulator, device, GOOD_BYTES, key=f"videos/{device}/2026-11-27T00:00:00.000+00:00.mp4")
    [result] = wait_for_results(results, device, "clip_key", key)
    assert result["frame_key"] == f"frames/{device}/2026-11-27T00:00:00.000+00:00/0000.png"
    assert result["name"] == LABELS[GOOD_VIDEO]


def test_objects_outside_the_expected_prefixes_run_no_function(emulator, results, dead_letters):
    device = new_device()
    keys = [f"uploads/{device}/a.mp4", f"videos/{device}/a.mov", f"frames/{device}/a/0000.jpg",
            f"{device}/videos/a.mp4"]
    for key in keys:
        put_clip(emulator, device, GOOD_BYTES, key=key)
    good = assert_good_clip_answered(emulator, results, device)
    lines = []
    for function in ("FrameExtractorFunction", "FaceClassifierFunction"):
        lines += log_messages(emulator, emulator.outputs[function], timeout=10, until=good)
    assert any(good in line for line in lines)
    assert not [line for line in lines if any(key in line for key in keys)]
    assert all(dead_letters.wait_for(key, timeout=0) == [] for key in keys)
    assert len(results.wait_for(device, count=0, timeout=0)) == 1


def _s3_event(bucket: str, key: str, padding: int) -> bytes:
    record = {"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventTime": utc_stamp(),
              "eventName": "ObjectCreated:Put",
              "s3": {"bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                     "object": {"key": quote_plus(key), "size": 1000}}}
    return json.dumps({"Records": [record], "padding": "x" * padding}).encode()


def test_an_event_over_the_async_payload_limit_is_refused_at_invoke(emulator):
    lam = emulator.client("lambda")
    payload = _s3_event(emulator.outputs["VideosBucket"], "videos/x/y.mp4", 1024 * 1024)
    with pytest.raises(ClientError, match="limit") as caught:
        lam.invoke(FunctionName=emulator.outputs["FrameExtractorFunction"], InvocationType="Event", Payload=payload)
    assert caught.value.response["Error"]["Code"] == "RequestEntityTooLargeException"  # what AWS answers


def test_a_huge_failing_event_reaches_the_dlq_whole_after_two_retries(emulator, results, dead_letters):
    device = new_device()
    key = f"videos/{device}/{utc_stamp()}.mp4"  # never uploaded: every attempt fails with NoSuchKey
    payload = _s3_event(emulator.outputs["VideosBucket"], key, 900_000)
    emulator.client("lambda").invoke(FunctionName=emulator.outputs["FrameExtractorFunction"],
                                     InvocationType="Event", Payload=payload)
    [letter] = dead_letters.wait_for(key)
    assert (letter.error_code, letter.invoke_count, letter.body.encode()) == ("200", 3, payload)  # AWS: the HTTP status
    assert_good_clip_answered(emulator, results, device)


def _dead_letter_errors(emulator, function: str) -> float:
    now = datetime.now(UTC)
    datapoints = emulator.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Lambda", MetricName="DeadLetterErrors", Dimensions=[{"Name": "FunctionName", "Value": function}],
        StartTime=now - timedelta(minutes=5), EndTime=now + timedelta(minutes=1), Period=60, Statistics=["Sum"],
    )["Datapoints"]
    return sum(point["Sum"] for point in datapoints)


def test_an_event_too_big_for_its_dlq_is_counted_in_dead_letter_errors_and_nothing_stops(emulator, lam, results):
    sqs = emulator.client("sqs")
    small = sqs.create_queue(QueueName=f"small-dlq-{uuid.uuid4().hex[:8]}", Attributes={"MaximumMessageSize": "1024"})
    arn = sqs.get_queue_attributes(QueueUrl=small["QueueUrl"], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    function = create_function(lam, "raise", dlq_arn=arn)
    log = LogTail(emulator.log_path)
    lam.invoke(FunctionName=function, InvocationType="Event", Payload=json.dumps({"padding": "x" * 4096}))
    assert log.wait_for("could not be dead-lettered")
    deadline = time.monotonic() + 10
    while _dead_letter_errors(emulator, function) < 1:
        assert time.monotonic() < deadline, "no DeadLetterErrors datapoint"
        time.sleep(0.2)
    assert_good_clip_answered(emulator, results, new_device())


def _variant_of_the_fixture_model(folder):
    """The fixture model with a slightly different threshold: valid, and a new version."""
    shutil.copytree(FIXTURES / "model", folder)
    manifest = json.loads((folder / "model.json").read_text())
    manifest["threshold"]["distance"] *= 0.999
    manifest["version"] = content_version(manifest)
    (folder / "model.json").write_text(json.dumps(manifest))
    return manifest


def _other_embedding_model(manifest):
    return json.dumps({**manifest, "embedding_model": "facenet-vggface2-512"}).encode()


BROKEN_MODELS = {
    "corrupt weights": ("head.npz", lambda manifest: b"\x80\x02 not a torch file", "checksum mismatch"),
    "another embedding model": ("model.json", _other_embedding_model, "made for embedding model 'facenet"),
}


@pytest.mark.parametrize("case", BROKEN_MODELS)
def test_a_broken_model_fails_clearly_into_the_dlq_and_a_good_one_recovers(emulator, results, dead_letters,
                                                                             tmp_path, case):
    name, content, reason = BROKEN_MODELS[case]
    s3, bucket = emulator.client("s3"), emulator.outputs["ModelsBucket"]
    manifest = _variant_of_the_fixture_model(tmp_path / "model")
    device = new_device()
    try:
        publish_model(s3, bucket, tmp_path / "model")
        s3.put_object(Bucket=bucket, Key=f"models/{manifest['version']}/{name}", Body=content(manifest))
        clip = put_clip(emulator, device, GOOD_BYTES)
        [letter] = dead_letters.wait_for(clip.replace("videos/", "frames/", 1)[:-4] + "/0000.png", timeout=30)
    finally:
        publish_model(s3, bucket, FIXTURES / "model")
    assert (letter.error_code, letter.invoke_count) == ("200", 3)  # AWS: the HTTP status
    assert manifest["version"] in letter.error_message and reason in letter.error_message
    assert_good_clip_answered(emulator, results, device)
