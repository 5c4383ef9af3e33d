"""The verdict does not depend on arrival order, and SQS redeliveries or duplicates never change the judgement."""

import dataclasses
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checker import Verdict, check
from grader.workload import load_students
from tests.grader.conftest import STUDENTS, T0, expected, received, result
from tests.grader.test_checker_verdicts import LIMIT_MS

PEOPLE = ["president_trump", "floki", "mr_bean", "unknown", None]
COURSE_STUDENTS = load_students(STUDENTS)


@st.composite
def result_sets(draw: st.DrawFn) -> tuple[list, list, dict]:
    """Uploads and a valid set of results for them: 0-3 frames per upload, distinct receive times."""
    students = COURSE_STUDENTS
    uploads, messages = [], []
    for index in range(draw(st.integers(1, 6))):
        uploads.append(expected(index, draw(st.sampled_from(PEOPLE[:3]))))
        for frame in range(draw(st.integers(0, 3))):
            at = T0 + index + draw(st.integers(1, 5000)) / 1000 + frame * 1e-4
            body = result(index, draw(st.sampled_from(PEOPLE)), students, frame=frame)
            messages.append(received(body, at, f"m{index}-{frame}"))
    return uploads, messages, students


def _judgement(verdict: Verdict) -> tuple:
    """Everything but the issue list (whose duplicate entries name message ids)."""
    counts = {k: v for k, v in verdict.counts().items() if k != "duplicate"}
    return verdict.clips, counts, verdict.latency


@settings(max_examples=100, deadline=None)
@given(result_sets(), st.randoms(use_true_random=False))
def test_any_arrival_order_and_any_redelivery_give_the_same_verdict(data: tuple, rnd: random.Random) -> None:
    uploads, messages, students = data
    baseline = check(uploads, messages, students, LIMIT_MS)
    shuffled = messages + rnd.sample(messages, k=len(messages) // 2)
    rnd.shuffle(shuffled)

    again = check(uploads, shuffled, students, LIMIT_MS)

    assert dataclasses.replace(again, notes=baseline.notes) == baseline


@settings(max_examples=100, deadline=None)
@given(result_sets(), st.randoms(use_true_random=False))
def test_duplicates_under_new_message_ids_are_only_counted_as_duplicates(data: tuple, rnd: random.Random) -> None:
    uploads, messages, students = data
    baseline = check(uploads, messages, students, LIMIT_MS)
    copies = [
        dataclasses.replace(m, message_id=m.message_id + "-copy", received_at=m.received_at + 0.5)
        for m in rnd.sample(messages, k=len(messages) // 2)
    ]

    again = check(uploads, rnd.sample(messages + copies, k=len(messages) + len(copies)), students, LIMIT_MS)

    assert _judgement(again) == _judgement(baseline)
    assert again.count("duplicate") == len(copies)
