"""The checker judges each upload: correct, wrong person, wrong record, missing, late, majority of frames."""

from collections.abc import Callable
from typing import Any

from grader.checker import check, per_video
from tests.grader.conftest import T0, expected, received

LIMIT_MS = 3000.0


def test_all_right_answers_are_correct_with_latency_from_the_graders_own_upload_time(
    students: dict, make_result: Callable[..., dict[str, Any]]
) -> None:
    uploads = [expected(0, "president_trump"), expected(1, "floki")]
    messages = [
        received(make_result(0, "president_trump"), T0 + 1.5, "m0"),
        received(make_result(1, "floki"), T0 + 2.25, "m1"),
    ]

    verdict = check(uploads, messages, students, LIMIT_MS)

    assert verdict.counts() == {
        "total": 2,
        "answered": 2,
        "correct": 2,
        "missing": 0,
        "wrong": 0,
        "late": 0,
        "duplicate": 0,
        "malformed": 0,
        "wrong_group": 0,
        "unexpected": 0,
        "upload_failed": 0,
    }
    assert [c.latency_ms for c in verdict.clips] == [1500.0, 1250.0]
    assert (verdict.latency.p50, verdict.latency.count) == (1375.0, 2)
    assert verdict.issues == ()


def test_a_wrong_person_is_counted_and_listed_with_both_names(students: dict, make_result: Callable) -> None:
    verdict = check(
        [expected(0, "floki")], [received(make_result(0, "president_trump"), T0 + 1, "m0")], students, LIMIT_MS
    )

    assert (verdict.answered, verdict.correct, verdict.count("wrong")) == (1, 0, 1)
    assert verdict.clips[0].answer == "president_trump"
    assert "answered 'president_trump', expected floki" in verdict.issues[0].detail


def test_the_right_name_with_a_wrong_student_record_is_wrong(students: dict, make_result: Callable) -> None:
    body = make_result(0, "floki", student={"name": "floki", "major": "physics", "year": "junior"})

    verdict = check([expected(0, "floki")], [received(body, T0 + 1, "m0")], students, LIMIT_MS)

    assert verdict.clips[0].outcome == "wrong"
    assert "floki/physics/junior, expected floki/history/junior" in verdict.clips[0].detail


def test_a_recognised_name_without_a_record_is_wrong_and_gives_the_reason(
    students: dict, make_result: Callable
) -> None:
    body = make_result(0, "floki", status="not_enrolled", student=None, reason="floki is not in the table")

    verdict = check([expected(0, "floki")], [received(body, T0 + 1, "m0")], students, LIMIT_MS)

    assert verdict.clips[0].outcome == "wrong"
    assert "floki is not in the table" in verdict.clips[0].detail


def test_freshman_and_freshmen_are_equal_and_the_report_says_so(students: dict, make_result: Callable) -> None:
    record = {"name": "mr_bean", "major": "lawyer", "year": "freshman"}
    messages = [
        received(make_result(0, "mr_bean", student=record), T0 + 1, "m0"),
        received(make_result(1, "mr_bean"), T0 + 2, "m1"),
    ]

    verdict = check([expected(0, "mr_bean"), expected(1, "mr_bean")], messages, students, LIMIT_MS)

    assert students["mr_bean"].year == "freshmen"
    assert verdict.correct == 2
    assert [c.normalised for c in verdict.clips] == [True, False]
    assert any("'freshman' and 'freshmen' count as equal" in note for note in verdict.notes)
    assert any("1 answer(s) were judged correct only thanks to the freshman/freshmen rule" in n for n in verdict.notes)


def test_an_upload_without_result_is_missing_and_an_upload_failure_says_why(students: dict) -> None:
    failed = expected(1, "floki")
    failed = type(failed)(failed.clip_key, failed.name, failed.source, failed.persons, None, "AccessDenied")

    verdict = check([expected(0, "floki"), failed], [], students, LIMIT_MS)

    assert (verdict.total, verdict.answered, verdict.count("missing"), verdict.upload_failed) == (2, 0, 2, 1)
    assert [i.detail for i in verdict.issues] == [
        "test_0.mp4: no result received",
        "test_1.mp4: upload failed: AccessDenied",
    ]
    assert verdict.latency.p50 is None


def test_a_result_above_the_limit_is_late_but_still_correct(students: dict, make_result: Callable) -> None:
    verdict = check([expected(0, "floki")], [received(make_result(0, "floki"), T0 + 3.2, "m0")], students, LIMIT_MS)

    assert (verdict.correct, verdict.count("late")) == (1, 1)
    assert "3200 ms > 3000 ms" in verdict.issues[0].detail


def test_several_frames_vote_and_the_first_result_sets_the_latency(students: dict, make_result: Callable) -> None:
    messages = [
        received(make_result(0, "president_trump", frame=0), T0 + 1, "a"),
        received(make_result(0, "floki", frame=1), T0 + 2, "b"),
        received(make_result(0, "floki", frame=2), T0 + 4, "c"),
        received(make_result(0, None, frame=3), T0 + 5, "d"),
    ]

    clip = check([expected(0, "floki")], messages, students, LIMIT_MS).clips[0]

    assert (clip.outcome, clip.answer, clip.results, clip.latency_ms) == ("correct", "floki", 4, 1000.0)


def test_a_bystander_stranger_in_the_frame_does_not_outvote_the_person(students: dict, make_result: Callable) -> None:
    # test_5.mp4's first frame: vin_diesel plus an unenrolled second face, received first
    messages = [
        received(make_result(0, "unknown", face=0), T0 + 1, "a"),
        received(make_result(0, "vin_diesel", face=1), T0 + 1.1, "b"),
        received(make_result(1, "unknown", face=0), T0 + 2, "c"),
    ]

    verdict = check([expected(0, "vin_diesel"), expected(1, "vin_diesel")], messages, students, LIMIT_MS)

    assert (verdict.clips[0].outcome, verdict.clips[0].answer) == ("correct", "vin_diesel")
    assert (verdict.clips[1].outcome, verdict.clips[1].answer) == ("wrong", "unknown")


def test_a_tie_goes_to_the_name_received_first_and_no_face_alone_is_wrong(
    students: dict, make_result: Callable
) -> None:
    tie = [
        received(make_result(0, "floki", frame=1), T0 + 2, "b"),
        received(make_result(0, "mr_bean", frame=0), T0 + 1, "a"),
    ]
    no_face = [received(make_result(1, None), T0 + 2, "c")]

    verdict = check([expected(0, "floki"), expected(1, "floki")], tie + no_face, students, LIMIT_MS)

    assert verdict.clips[0].answer == "mr_bean"
    assert (verdict.clips[1].outcome, verdict.clips[1].answer) == ("wrong", None)
    assert "no face found in 1 result(s)" in verdict.clips[1].detail


def test_a_clip_across_two_videos_accepts_either_person_and_rows_group_by_video(
    students: dict, make_result: Callable
) -> None:
    both = expected(0, "floki", source="a.mp4+b.mp4")
    both = type(both)(both.clip_key, both.name, both.source, ("floki", "mr_bean"), both.uploaded_at)
    verdict = check(
        [both, expected(1, "floki", source="b.mp4")],
        [received(make_result(0, "mr_bean"), T0 + 1, "m")],
        students,
        LIMIT_MS,
    )

    assert verdict.clips[0].outcome == "correct"
    assert [(r.source, r.sent, r.correct, r.missing) for r in per_video(verdict)] == [
        ("a.mp4+b.mp4", 1, 1, 0),
        ("b.mp4", 1, 0, 1),
    ]
