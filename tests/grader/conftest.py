"""Grader test helpers: crafted result messages, expected uploads, and a moto server for API tests."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from contract import ClipKey, Outcome, Student
from grader.checker import Expected
from grader.collector import Received
from grader.workload import load_students
from tests.conftest import DUMMY_ENV, result_body

REPO = Path(__file__).resolve().parents[2]
STUDENTS = REPO / "fixtures" / "student_data.json"
DEVICE = "grader"
T0 = 1_790_000_000.0


def clip_key(index: int) -> str:
    """The clip key of upload `index` (one per second from T0)."""
    return f"videos/{DEVICE}/2026-11-26T00:00:{index:02d}.000Z.mp4"


def expected(index: int, person: str, *, source: str | None = None, uploaded_at: float | None = None) -> Expected:
    """An upload that should be answered `person`, PUT at T0 + index s."""
    return Expected(
        clip_key(index),
        f"test_{index}.mp4",
        source or f"video_{person}.mp4",
        (person,),
        T0 + index if uploaded_at is None else uploaded_at,
    )


def result(
    index: int,
    name: str | None,
    students: dict[str, Student],
    *,
    frame: int = 0,
    face: int | None = 0,
    device_id: str = DEVICE,
    **overrides: Any,
) -> dict[str, Any]:
    """A valid result message (the contract's builder) for upload `index`, naming `name` (None: no face)."""
    if name is None:
        outcome = Outcome.faceless("no_face", "no face found in the frame")
    else:
        outcome = Outcome.face(face, name, 0.9, (1, 2, 3, 4), students.get(name))
    stamp = ClipKey.parse(clip_key(index)).stamp
    return result_body(DEVICE, stamp, frame, outcome, timings={"total": 1.0}, device_id=device_id, **overrides)


def received(body: dict[str, Any] | str, at: float, message_id: str, group_id: str | None = DEVICE) -> Received:
    """A received message: the body (dict → JSON), when, its id and MessageGroupId."""
    return Received(message_id, body if isinstance(body, str) else json.dumps(body), group_id, at)


@pytest.fixture(scope="session")
def students() -> dict[str, Student]:
    """The course's student records by name."""
    return load_students(STUDENTS)


@pytest.fixture
def make_result(students: dict[str, Student]) -> Callable[..., dict[str, Any]]:
    """result() bound to the course's students."""
    return lambda index, name, **kw: result(index, name, students, **kw)



@pytest.fixture
def client(moto_endpoint: str) -> Callable[[str], Any]:
    """boto3 clients on the moto server with obviously dummy credentials."""
    session = boto3.Session(aws_access_key_id=DUMMY_ENV["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=DUMMY_ENV["AWS_SECRET_ACCESS_KEY"],
                            region_name=DUMMY_ENV["AWS_DEFAULT_REGION"])
    return lambda service: session.client(service, endpoint_url=moto_endpoint)
