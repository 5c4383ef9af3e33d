"""The result message (docs/contracts.md, "Result message"): one typed model, its validation and its builders.

The classifier builds every message with `Result.of`; the Pi's consumer and the grader read them with
`Result.from_json`, which raises MalformedResultError naming each field that breaks the contract.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    model_validator,
)
from pydantic.dataclasses import dataclass

from contract.errors import MalformedResultError
from contract.keys import (
    META_CAPTURED_AT,
    META_CLIP_KEY,
    META_UPLOADED_AT,
    ClipKey,
    FrameKey,
    carried_metadata,
    format_stamp,
    parse_stamp,
)

SCHEMA = 1
UNKNOWN = "unknown"  # the name of a face that matches no enrolled person
Status = Literal["recognized", "unknown", "no_face", "not_enrolled", "bad_frame"]
STATUSES: tuple[str, ...] = Status.__args__


def _stamp(value: Any) -> datetime:
    """A timestamp: on the wire an ISO-8601 string with a zone (Z or an offset); in Python an aware datetime."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    if not isinstance(value, str):
        raise ValueError("must be an ISO-8601 UTC time string")
    return parse_stamp(value)


def _box(value: Any) -> Any:
    """[top, right, bottom, left]: numbers are rounded to whole pixels; anything else is left to fail."""
    if isinstance(value, list | tuple) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        return [round(v) for v in value]
    return value


Stamp = Annotated[datetime, BeforeValidator(_stamp), PlainSerializer(format_stamp, return_type=str)]
Box = Annotated[tuple[StrictInt, StrictInt, StrictInt, StrictInt], BeforeValidator(_box)]
Timings = Annotated[dict[str, StrictFloat], BeforeValidator(lambda value: {} if value is None else value)]


@dataclass(frozen=True, config=ConfigDict(coerce_numbers_to_str=True))
class Student:
    """The student record the classifier looked up (numbers in the table are read as text)."""

    name: str
    major: str
    year: str


class Origin(BaseModel):
    """What every result of one frame shares: where it came from, when, and which model judged it."""

    model_config = ConfigDict(frozen=True, extra="ignore", protected_namespaces=())

    device_id: StrictStr
    clip_key: StrictStr
    frame_key: StrictStr
    frame_index: StrictInt
    captured_at: Stamp
    uploaded_at: Stamp
    model_version: StrictStr | None = None

    @classmethod
    def of_frame(
        cls, frame: FrameKey, metadata: Mapping[str, str], event_time: str, model_version: str | None
    ) -> Origin:
        """From a frame's key, its S3 metadata and its S3 event's time (for a frame PUT without metadata)."""
        carried = carried_metadata(ClipKey.parse(frame.clip_key), metadata, event_time)
        return cls.model_validate({
            "device_id": frame.device_id,
            "clip_key": metadata.get(META_CLIP_KEY, frame.clip_key),
            "frame_key": frame.key,
            "frame_index": frame.index,
            "captured_at": carried[META_CAPTURED_AT],
            "uploaded_at": carried[META_UPLOADED_AT],
            "model_version": model_version,
        })


class Outcome(BaseModel):
    """What was found for one face (or for a frame without one)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    status: Status
    face_index: StrictInt | None = None
    name: StrictStr | None = None
    confidence: StrictFloat | None = None
    box: Box | None = None
    student: Student | None = None
    reason: StrictStr | None = None

    @classmethod
    def faceless(cls, status: Status, reason: str) -> Outcome:
        """A frame with no face to report (`no_face`, `bad_frame`)."""
        return cls(status=status, reason=reason)

    @classmethod
    def face(
        cls, index: int, name: str, confidence: float, box: tuple[int, int, int, int], student: Student | None
    ) -> Outcome:
        """A face: `unknown` for a stranger, `not_enrolled` without a student record, else `recognized`."""
        found = {"face_index": index, "name": name, "confidence": round(float(confidence), 4),
                 "box": tuple(int(side) for side in box)}
        if name == UNKNOWN:
            return cls(**found, status="unknown", reason="the face matches no enrolled person")
        if student is None:
            return cls(**found, status="not_enrolled", reason=f"{name} is not in the students table")
        return cls(**found, status="recognized", student=student)


class Result(Outcome, Origin):
    """One result message; unknown extra fields are ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True, protected_namespaces=())

    schema_version: Literal[1] = Field(SCHEMA, alias="schema")
    classified_at: Stamp
    timings_ms: Timings = Field(default_factory=dict)

    @model_validator(mode="after")
    def _recognized_has_a_student(self) -> Result:
        if self.status == "recognized" and self.student is None:
            raise ValueError("a 'recognized' result needs a 'student' record")
        return self

    @classmethod
    def of(cls, origin: Origin, outcome: Outcome, classified_at: datetime, timings_ms: Mapping[str, float]) -> Result:
        """The message for one outcome of a frame."""
        return cls(**dict(origin), **dict(outcome), classified_at=classified_at, timings_ms=dict(timings_ms))

    @classmethod
    def from_json(cls, body: str | bytes) -> Result:
        """Parse and validate a message body; MalformedResultError says what is wrong."""
        try:
            data = json.loads(body)
        except json.JSONDecodeError as exc:
            raise MalformedResultError(f"body is not JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise MalformedResultError(f"body is not a JSON object but {type(data).__name__}")
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Result:
        """Validate a decoded message; MalformedResultError names every field that breaks the contract."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise MalformedResultError(_describe(exc)) from exc

    def to_dict(self) -> dict[str, Any]:
        """The wire form as a JSON-ready dict (times as contract stamps, `schema` first)."""
        data = self.model_dump(mode="json", by_alias=True)
        return {"schema": data.pop("schema"), **data}

    def to_json(self) -> str:
        """The wire form: compact JSON."""
        return json.dumps(self.to_dict(), separators=(",", ":"))


def _describe(exc: ValidationError) -> str:
    """'field: problem (got value)' for each error, '; '-separated."""
    return "; ".join(_describe_one(error) for error in exc.errors(include_url=False))


def _describe_one(error: Mapping[str, Any]) -> str:
    """One error: the field path, the problem and the value (a whole-message error names no field)."""
    problem = error["msg"].removeprefix("Value error, ")
    if not error["loc"]:
        return problem
    return f"{'.'.join(str(part) for part in error['loc'])}: {problem} (got {error['input']!r})"
