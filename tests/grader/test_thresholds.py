"""Rubric thresholds load from JSON or YAML; unknown keys and out-of-range values are errors."""

from pathlib import Path

import pytest

from grader.config import RunSettings, Thresholds, load_thresholds
from grader.errors import ConfigError


def test_defaults_are_the_course_graders_limits() -> None:
    thresholds = load_thresholds(None)

    assert (thresholds.latency_limit_ms, thresholds.latency_percentile) == (3000, 100)
    assert (thresholds.max_extractor_avg_duration_ms, thresholds.max_classifier_avg_duration_ms) == (2000, 10000)
    assert thresholds.min_max_concurrency == 3


def test_json_and_yaml_files_override_single_thresholds(tmp_path: Path) -> None:
    (tmp_path / "t.json").write_text('{"latency_limit_ms": 5000}')
    (tmp_path / "t.yaml").write_text("min_max_concurrency: 1\nlatency_percentile: 95\n")

    assert load_thresholds(tmp_path / "t.json") == Thresholds(latency_limit_ms=5000)
    assert load_thresholds(tmp_path / "t.yaml") == Thresholds(min_max_concurrency=1, latency_percentile=95)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"latency_limt_ms": 1}', "latency_limt_ms: unknown setting"),
        ('{"min_correct_fraction": 1.5}', "min_correct_fraction must be a number between 0 and 1"),
        ('{"min_max_concurrency": true}', "min_max_concurrency: input should be a valid integer"),
        ("[1, 2]", "must hold a mapping"),
        ("{", "cannot read thresholds"),
    ],
)
def test_bad_threshold_files_are_rejected_with_a_clear_message(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "t.json"
    path.write_text(text)

    with pytest.raises(ConfigError, match=message):
        load_thresholds(path)


def test_run_settings_are_bounded() -> None:
    with pytest.raises(ConfigError, match=r"rate must be a number between 0\.01 and 100"):
        RunSettings(rate=1000)
    with pytest.raises(ConfigError, match="count"):
        RunSettings(count=0)


def test_the_burst_cannot_outnumber_the_upload_threads() -> None:
    with pytest.raises(ConfigError, match=r"burst \(9\) must be at most upload_threads \(8\)"):
        RunSettings(burst=9)


def test_the_cli_defaults_are_the_run_settings_defaults() -> None:
    from grader.__main__ import _default_rate, _parser

    args = _parser().parse_args(["run"])
    assert (args.workload, args.count, args.burst, args.timeout, args.settle, args.device_id, _default_rate("course")) \
        == (RunSettings().workload, RunSettings().count, RunSettings().burst, RunSettings().timeout,
            RunSettings().settle, RunSettings().device_id, RunSettings().rate)
