"""The summary counts only this run's clips; a result an earlier run left in the queue is reported apart."""

import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from contract import format_stamp, frame_key, utc_now
from device.__main__ import main
from device.config import ConsumerConfig
from device.consumer import ResultsConsumer, Summary, load_expected
from device.this_run import ThisRun
from tests.conftest import MR_BEAN, result_body

DEVICE = "demo-pi"
STALE_AGE_S = 46


def _result(device_id: str, captured: datetime, frame_index: int = 0, **overrides: Any) -> dict[str, Any]:
    """A mr_bean result of a clip captured then, uploaded 50 ms later, classified now."""
    return result_body(device_id, format_stamp(captured), frame_index, MR_BEAN,
                       uploaded_at=format_stamp(captured + timedelta(milliseconds=50)),
                       classified_at=format_stamp(utc_now()), **overrides)


def _ago(seconds: float) -> datetime:
    """That many seconds before now."""
    return utc_now() - timedelta(seconds=seconds)


def _this_run(expected_file: Path) -> list[dict[str, Any]]:
    """Three clips of this run as the recorder names them: one labelled by clip key, one spanning two videos
    (labelled by frame key, two results), one from an unlabelled video (not in the file); writes the file."""
    spanning = _ago(1.5)
    clips = [_result(DEVICE, _ago(2)), _result(DEVICE, spanning), _result(DEVICE, spanning, 1),
             _result(DEVICE, _ago(1))]
    expected_file.write_text(json.dumps({
        clips[0]["clip_key"]: "mr_bean",
        frame_key(DEVICE, format_stamp(spanning), 0): "mr_bean",
        frame_key(DEVICE, format_stamp(spanning), 1): "vin_diesel",
    }))
    return clips


def _consume(queue: str, expected_file: Path, **config: Any) -> tuple[ResultsConsumer, Summary]:
    """Run a consumer until the queue is idle; its summary against the expected file."""
    config = {"wait_time_seconds": 1, "idle_timeout": 1.5, **config}
    consumer = ResultsConsumer(queue, 2, config=ConsumerConfig(**config))
    consumer.run()
    return consumer, consumer.summary(load_expected(expected_file))


def _queued(sqs: Any, queue: str) -> int:
    """Messages still in the queue, visible or not."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=names)["Attributes"]
    return sum(int(attributes[name]) for name in names)


def test_a_stale_result_is_left_out_of_this_runs_figures_and_counted_apart(
    fifo_queue: str, send: Callable[..., None], sqs: Any, tmp_path: Path
) -> None:
    expected_file = tmp_path / "expected.json"
    stale = _result(DEVICE, _ago(STALE_AGE_S))
    this_run = _this_run(expected_file)
    send(fifo_queue, [stale, *this_run])

    consumer, summary = _consume(fifo_queue, expected_file)

    assert (summary.results, summary.earlier) == (len(this_run), 1)
    assert summary.capture_latency.count == summary.upload_latency.count == len(this_run)
    # the stale clip was captured 44 s before this run's oldest: in the figures, p99 would stand that far above p50
    # whenever the consumer got to them (this run's capture stamps span 1 s)
    spread = summary.capture_latency.p99 - summary.capture_latency.p50  # type: ignore[operator]
    assert spread < (STALE_AGE_S - 2) * 1000
    assert (summary.judged, summary.correct) == (3, 2)
    assert summary.by_status == {"recognized": len(this_run)}
    reported = sorted(result.frame_key for result, _ in consumer.results())
    assert reported == sorted(body["frame_key"] for body in [stale, *this_run])
    assert _queued(sqs, fifo_queue) == 0


@pytest.mark.parametrize(
    "stale",
    [
        pytest.param(lambda: _result("other-pi", _ago(0.5)), id="another-device"),
        pytest.param(
            lambda: _result(DEVICE, _ago(0.5), clip_key=f"videos/{DEVICE}/by-hand.mp4"), id="clip-not-recorded"
        ),
        pytest.param(lambda: _result(DEVICE, _ago(3600)), id="an-hour-before"),
    ],
)
def test_results_of_clips_this_run_did_not_record_are_not_counted(
    stale: Callable[[], dict[str, Any]], fifo_queue: str, send: Callable[..., None], tmp_path: Path
) -> None:
    expected_file = tmp_path / "expected.json"
    this_run = _this_run(expected_file)
    send(fifo_queue, [*this_run, stale()])

    _, summary = _consume(fifo_queue, expected_file)

    assert (summary.results, summary.earlier) == (len(this_run), 1)


def test_malformed_stale_messages_are_handled_as_before_and_the_split_still_holds(
    fifo_queue: str, send: Callable[..., None], sqs: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    expected_file = tmp_path / "expected.json"
    this_run = _this_run(expected_file)
    send(fifo_queue, ["{not json", '{"schema": 1}', _result(DEVICE, _ago(STALE_AGE_S)), *this_run])

    _, summary = _consume(fifo_queue, expected_file, visibility_timeout=1, max_malformed_receives=2,
                          idle_timeout=3)  # idle for longer than a message takes to be visible again

    assert (summary.results, summary.earlier) == (len(this_run), 1)
    assert summary.malformed == 4  # two bad messages, each received twice, then dropped
    assert "not JSON" in caplog.text and caplog.text.count("dropping malformed message") == 2
    assert _queued(sqs, fifo_queue) == 0


def test_the_cli_summary_names_the_results_from_before_this_run(
    fifo_queue: str,
    send: Callable[..., None],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected_file = tmp_path / "expected.json"
    this_run = _this_run(expected_file)
    send(fifo_queue, [_result(DEVICE, _ago(STALE_AGE_S)), *this_run])
    monkeypatch.setenv("RESULTS_QUEUE_URL", fifo_queue)

    code = main(["results", "--threads", "2", "--idle-timeout", "1.5", "--wait-time", "1",
                 "--expected", str(expected_file)])

    out = capsys.readouterr().out
    assert code == 0
    assert re.search(r"results\W+4\W", out) and re.search(r"before this run, left out\W+1\W", out)
    p99 = re.search(r"capture→result ms p50/p95/p99\W+\d+ / \d+ / (\d+)", out)
    assert p99 is not None and int(p99[1]) < 10_000


def test_an_expected_file_naming_no_recorded_clip_describes_no_run() -> None:
    assert ThisRun.of_expected({"2026-11-26T23:59:52.000Z.mp4": "x", "frames/x/0003.png": None}) is None
    assert ThisRun.of_expected({f"videos/{DEVICE}/by-hand.mp4": "x"}) is None
    run = ThisRun.of_expected({
        f"videos/{DEVICE}/2026-11-26T23:59:52.000Z.mp4": "x",
        frame_key(DEVICE, "2026-11-26T23:59:51.500Z", 3): None,
        "videos/other/2026-11-26T23:59:58.000Z.mp4": "y",
    })
    assert run == ThisRun({DEVICE: "2026-11-26T23:59:51.500Z", "other": "2026-11-26T23:59:58.000Z"})
