"""Face classifier library: an outcome per face and status, FIFO dedup ids and groups."""

import json

from contract import FrameKey, Origin, Result, Student
from facerec import Box, Identification
from lambdas.face_classifier.results import deduplication_id, face_outcomes, queue_entries

STUDENTS = {"mr_bean": Student("mr_bean", "lawyer", "freshmen")}
FRAME = FrameKey.parse("frames/pi-1/2026-11-26T23:59:59.123Z/0003.png")
META = {"clip-key": "videos/pi-1/2026-11-26T23:59:59.123Z.mp4", "captured-at": "2026-11-26T23:59:59.123Z",
        "uploaded-at": "2026-11-26T23:59:59.200Z"}
ORIGIN = Origin.of_frame(FRAME, META, "2026-11-26T23:59:59.300Z", "abc")


def _face(name):
    return Identification(name=name, confidence=0.9, distance=0.3, box=Box(10, 60, 70, 5))


def _results(faces):
    return [Result.of(ORIGIN, outcome, ORIGIN.uploaded_at, {"total": 1.0})
            for outcome in face_outcomes(faces, STUDENTS.get)]


def test_each_status_carries_what_the_contract_says():
    results = _results([_face("mr_bean"), _face("unknown"), _face("floki")])
    assert [r.status for r in results] == ["recognized", "unknown", "not_enrolled"]
    assert results[0].student == STUDENTS["mr_bean"] and results[0].face_index == 0
    assert results[1].student is None and "no enrolled person" in results[1].reason
    assert "floki is not in the students table" in results[2].reason
    assert all(r.box == (10, 60, 70, 5) and r.to_dict()["captured_at"] == META["captured-at"] for r in results)


def test_strangers_are_not_looked_up():
    looked_up = []
    face_outcomes([_face("unknown")], lambda name: looked_up.append(name))
    assert looked_up == []


def test_a_frame_without_faces_gets_one_no_face_result():
    [result] = _results([])
    assert result.status == "no_face" and result.face_index is None and result.name is None


def test_entries_group_by_device_and_dedup_by_frame_and_face():
    entries = queue_entries(_results([_face("mr_bean"), _face("mr_bean")]))
    assert {e["MessageGroupId"] for e in entries} == {"pi-1"}
    assert entries[0]["MessageDeduplicationId"] != entries[1]["MessageDeduplicationId"]
    assert entries[0]["MessageDeduplicationId"] == deduplication_id(FRAME.key, 0)
    assert len(entries[0]["MessageDeduplicationId"]) == 64
    assert Result.from_json(entries[1]["MessageBody"]).face_index == 1
    assert json.loads(entries[1]["MessageBody"])["schema"] == 1
