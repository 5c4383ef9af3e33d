"""The checker sets aside malformed, duplicate, wrong-group and unexpected messages, each counted and listed."""

from collections.abc import Callable

from grader.checker import check
from tests.grader.conftest import T0, expected, received

LIMIT_MS = 3000.0


def test_malformed_json_and_schema_errors_are_listed_with_an_excerpt(students: dict, make_result: Callable) -> None:
    messages = [
        received("{not json", T0 + 1, "bad-json"),
        received(make_result(0, "floki", schema=2), T0 + 1.1, "bad-schema"),
        received(make_result(0, "floki", status="recognized", student=None), T0 + 1.2, "no-record"),
        received("[1, 2]", T0 + 1.3, "not-object"),
    ]

    verdict = check([expected(0, "floki")], messages, students, LIMIT_MS)

    assert verdict.count("malformed") == 4 and verdict.count("missing") == 1
    details = {i.key: i.detail for i in verdict.issues if i.kind == "malformed"}
    assert "not JSON" in details["bad-json"] and "'{not json'" in details["bad-json"]
    assert "schema: Input should be 1" in details["bad-schema"]
    assert "needs a 'student' record" in details["no-record"]
    assert "not a JSON object" in details["not-object"]


def test_a_second_result_for_the_same_face_is_a_duplicate_but_a_redelivery_is_not(
    students: dict, make_result: Callable
) -> None:
    body = make_result(0, "floki")
    messages = [received(body, T0 + 1, "m1"), received(body, T0 + 2, "m2"), received(body, T0 + 3, "m1")]

    verdict = check([expected(0, "floki")], messages, students, LIMIT_MS)

    assert (verdict.correct, verdict.count("duplicate"), verdict.clips[0].results) == (1, 1, 1)
    assert "second result for frames/grader/" in verdict.issues[0].detail and "(message m2)" in verdict.issues[0].detail
    assert any("1 message(s) were delivered twice by SQS" in note for note in verdict.notes)


def test_another_face_of_the_same_frame_is_not_a_duplicate(students: dict, make_result: Callable) -> None:
    messages = [
        received(make_result(0, "floki", face=0), T0 + 1, "a"),
        received(make_result(0, "floki", face=1), T0 + 1, "b"),
    ]

    verdict = check([expected(0, "floki")], messages, students, LIMIT_MS)

    assert verdict.count("duplicate") == 0 and verdict.clips[0].results == 2


def test_a_message_group_other_than_the_device_id_is_listed_and_the_answer_still_counts(
    students: dict, make_result: Callable
) -> None:
    messages = [
        received(make_result(0, "floki"), T0 + 1, "a", group_id="default"),
        received(make_result(1, "floki"), T0 + 2, "b", group_id=None),
    ]

    verdict = check([expected(0, "floki"), expected(1, "floki")], messages, students, LIMIT_MS)

    assert (verdict.correct, verdict.count("wrong_group")) == (2, 2)
    assert "MessageGroupId 'default' but device_id 'grader'" in verdict.issues[0].detail


def test_results_for_clips_this_run_did_not_send_are_unexpected_and_not_judged(
    students: dict, make_result: Callable
) -> None:
    verdict = check([expected(0, "floki")], [received(make_result(7, "floki"), T0 + 1, "old")], students, LIMIT_MS)

    assert (verdict.count("unexpected"), verdict.count("missing"), verdict.answered) == (1, 1, 0)


def test_issues_are_grouped_by_kind_in_a_fixed_order(students: dict, make_result: Callable) -> None:
    messages = [
        received("x", T0, "bad"),
        received(make_result(0, "mr_bean"), T0 + 9, "a"),
        received(make_result(0, "mr_bean"), T0 + 9.5, "b"),
    ]

    verdict = check([expected(0, "floki"), expected(1, "floki")], messages, students, LIMIT_MS)

    assert [i.kind for i in verdict.issues] == ["missing", "wrong", "late", "duplicate", "malformed"]
