"""The rubric scores a run like the course's graders, and a missing metric fails its line."""

from collections.abc import Callable

from grader.checker import check
from grader.config import Thresholds
from grader.metrics import FunctionMetrics
from grader.rubric import score
from tests.grader.conftest import T0, expected, received


def _metrics(function: str, duration: float | None, concurrency: int | None) -> FunctionMetrics:
    return FunctionMetrics(function, 8, 0, 0, duration, duration, concurrency)


def test_a_good_run_passes_every_line(students: dict, make_result: Callable) -> None:
    verdict = check([expected(0, "floki")], [received(make_result(0, "floki"), T0 + 1, "m")], students, 3000)

    lines = score(verdict, _metrics("fx", 900, 2), _metrics("fc", 700, 4), Thresholds())

    assert [line.passed for line in lines] == [True] * 7
    assert [line.measured for line in lines] == [
        "1/1",
        "1/1",
        "1000 ms (0 late)",
        "900 ms",
        "700 ms",
        "4 (fc)",
        "0 malformed, 0 duplicate, 0 wrong group",
    ]


def test_each_limit_fails_its_own_line(students: dict, make_result: Callable) -> None:
    uploads = [expected(0, "floki"), expected(1, "floki"), expected(2, "floki")]
    messages = [
        received(make_result(0, "mr_bean"), T0 + 4, "a"),
        received(make_result(1, "floki"), T0 + 2, "b"),
        received(make_result(1, "floki"), T0 + 3, "c"),
    ]
    verdict = check(uploads, messages, students, 3000)

    lines = {
        line.name: line for line in score(verdict, _metrics("fx", 2500, 1), _metrics("fc", 10001, 2), Thresholds())
    }

    assert {name for name, line in lines.items() if line.passed} == set()
    assert lines["completeness (answered)"].measured == "2/3"
    assert lines["latency (every request)"].measured == "4000 ms (1 late)"
    assert lines["message contract"].measured == "0 malformed, 1 duplicate, 0 wrong group"


def test_a_percentile_latency_rule_and_missing_metrics(students: dict, make_result: Callable) -> None:
    uploads = [expected(i, "floki") for i in range(4)]
    messages = [received(make_result(i, "floki"), T0 + i + (9 if i == 0 else 1), f"m{i}") for i in range(4)]
    verdict = check(uploads, messages, students, 3000)

    lines = score(verdict, None, _metrics("fc", None, None), Thresholds(latency_percentile=50))

    assert (lines[2].name, lines[2].measured, lines[2].passed) == ("latency (p50)", "1000 ms (1 late)", True)
    assert [(line.measured, line.passed) for line in lines[3:6]] == [("no data", False)] * 3
