"""Result messages are validated against docs/contracts.md; unknown extra fields are tolerated."""

import json
from collections.abc import Callable
from typing import Any

import pytest

from contract import MalformedResultError, Result, Student

Build = Callable[..., dict[str, Any]]


def test_contract_example_parses(make_result: Build) -> None:
    body = make_result()
    result = Result.from_json(json.dumps(body))
    assert result.student == Student("mr_bean", "lawyer", "freshmen")
    assert (result.status, result.name, result.box, result.face_index) == ("recognized", "mr_bean", (10, 60, 70, 5), 0)
    assert result.captured_at < result.uploaded_at < result.classified_at
    assert result.timings_ms["total"] == 90.0


def test_no_face_and_unknown_results_parse(make_result: Build) -> None:
    no_face = make_result(
        status="no_face",
        name=None,
        box=None,
        confidence=None,
        face_index=None,
        student=None,
        reason="no face in the frame",
    )
    assert Result.from_dict(no_face).name is None
    stranger = make_result(status="unknown", name="unknown", student=None, reason="distance above threshold")
    assert Result.from_dict(stranger).student is None


def test_unknown_extra_fields_are_ignored(make_result: Build) -> None:
    result = Result.from_dict(make_result(new_field={"anything": 1}, another=[1, 2]))
    assert result.name == "mr_bean"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"schema": 2}, "schema"),
        ({"status": "maybe"}, "status"),
        ({"frame_index": "0"}, "frame_index"),
        ({"frame_index": True}, "frame_index"),
        ({"captured_at": "yesterday"}, "captured_at"),
        ({"uploaded_at": "2026-11-26T23:59:59.180"}, "uploaded_at"),
        ({"box": [1, 2, 3]}, "box"),
        ({"student": None}, "student"),
        ({"student": {"name": "mr_bean", "major": "lawyer"}}, "year"),
        ({"confidence": "high"}, "confidence"),
        ({"timings_ms": {"total": "fast"}}, "timings_ms"),
        ({"device_id": None}, "device_id"),
    ],
)
def test_invalid_fields_are_named(make_result: Build, change: dict[str, Any], message: str) -> None:
    body = make_result() | change
    with pytest.raises(MalformedResultError, match=message):
        Result.from_dict(body)


@pytest.mark.parametrize("body", ["", "not json", "[1, 2]", "null"])
def test_bodies_that_are_not_objects_are_rejected(body: str) -> None:
    with pytest.raises(MalformedResultError):
        Result.from_json(body)
