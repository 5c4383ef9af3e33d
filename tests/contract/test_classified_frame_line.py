"""The classifier's `classified frame` log line: what the classifier writes is what the console reads back."""

import json
from collections.abc import Callable
from typing import Any

import pytest

from contract import MalformedResultError, Result
from contract.lambda_logs import CLASSIFIED_FRAME, classified_frame_fields, classified_results

Build = Callable[..., dict[str, Any]]


def _powertools_line(fields: dict[str, Any]) -> str:
    """A JSON log line as Powertools' Logger writes one: level, message, then the extra fields."""
    return json.dumps({"level": "INFO", "message": CLASSIFIED_FRAME, "service": "face_classifier", **fields})


def test_a_written_line_reads_back_as_the_same_results(make_result: Build) -> None:
    results = [Result.from_dict(make_result()), Result.from_dict(make_result(face_index=1, status="unknown",
                                                                              name="unknown", student=None))]
    assert classified_results(_powertools_line(classified_frame_fields(results))) == results


@pytest.mark.parametrize("message", ["START RequestId: 1 Version: $LATEST",
                                     json.dumps({"message": "fetched model", "note": CLASSIFIED_FRAME})])
def test_other_lines_carry_no_results(message: str) -> None:
    assert classified_results(message) == []


@pytest.mark.parametrize("message", [f"{CLASSIFIED_FRAME} {{not json",
                                     json.dumps({"message": CLASSIFIED_FRAME, "results": [{"schema": 1}]}),
                                     json.dumps({"message": CLASSIFIED_FRAME})])
def test_a_broken_classified_line_is_a_contract_error(message: str) -> None:
    with pytest.raises(MalformedResultError):
        classified_results(message)
