"""Face classifier library: frame keys, result messages per status, FIFO dedup ids and groups."""

import json

import pytest

from facerec import Box, Identification
from lambdas.face_classifier.results import (
    BadFrameKeyError,
    FrameKey,
    base_message,
    deduplication_id,
    face_results,
    queue_entries,
)

STUDENTS = {"mr_bean": {"name": "mr_bean", "major": "lawyer", "year": "freshmen"}}
FRAME = FrameKey.parse("frames/pi-1/2026-11-26T23:59:59.123Z/0003.png")
META = {"clip-key": "videos/pi-1/2026-11-26T23:59:59.123Z.mp4", "captured-at": "2026-11-26T23:59:59.123Z",
        "uploaded-at": "2026-11-26T23:59:59.200Z"}


def _face(name):
    return Identification(name=name, confidence=0.9, distance=0.3, box=Box(10, 60, 70, 5))


def test_frame_keys_parse_into_device_stamp_and_index():
    assert (FRAME.device_id, FRAME.stamp, FRAME.index) == ("pi-1", "2026-11-26T23:59:59.123Z", 3)
    assert FRAME.clip_key == META["clip-key"]


@pytest.mark.parametrize("key", ["frames/../x/0.png", "frames/a/b/c.png", "videos/a/b/0.png", "frames/a b/s/0.png",
                                 "frames/a/s/0.jpg"])
def test_foreign_frame_keys_are_refused(key):
    with pytest.raises(BadFrameKeyError):
        FrameKey.parse(key)


def test_each_status_carries_what_the_contract_says():
    base = base_message(FRAME, META, "abc")
    results = face_results(base, [_face("mr_bean"), _face("unknown"), _face("floki")], STUDENTS.get)
    assert [r["status"] for r in results] == ["recognized", "unknown", "not_enrolled"]
    assert results[0]["student"] == STUDENTS["mr_bean"] and results[0]["face_index"] == 0
    assert results[1]["student"] is None and "no enrolled person" in results[1]["reason"]
    assert "floki is not in the students table" in results[2]["reason"]
    assert all(r["box"] == [10, 60, 70, 5] and r["captured_at"] == META["captured-at"] for r in results)


def test_a_frame_without_faces_gets_one_no_face_result():
    [result] = face_results(base_message(FRAME, META, "abc"), [], STUDENTS.get)
    assert result["status"] == "no_face" and result["face_index"] is None and result["name"] is None


def test_entries_group_by_device_and_dedup_by_frame_and_face():
    results = face_results(base_message(FRAME, META, "abc"), [_face("mr_bean"), _face("mr_bean")], STUDENTS.get)
    entries = queue_entries(results)
    assert {e["MessageGroupId"] for e in entries} == {"pi-1"}
    assert entries[0]["MessageDeduplicationId"] != entries[1]["MessageDeduplicationId"]
    assert entries[0]["MessageDeduplicationId"] == deduplication_id(FRAME.key, 0)
    assert len(entries[0]["MessageDeduplicationId"]) == 64
    assert json.loads(entries[1]["MessageBody"])["face_index"] == 1
