"""The summary: counts by status, accuracy against expected names, latency percentiles, stop rules."""

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from device.config import ConsumerConfig
from device.consumer import ResultsConsumer, load_expected
from device.errors import ConfigError


def test_accuracy_counts_only_results_with_an_expected_name(
    fifo_queue: str, send: Callable[..., None], make_result: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    clip = "videos/pi-1/2026-11-26T23:59:5{}.000Z.mp4"
    bodies = [
        make_result(clip_key=clip.format(1)),
        make_result(clip_key=clip.format(2), frame_index=1),
        make_result(
            clip_key=clip.format(3),
            frame_key="frames/x/0003.png",
            status="no_face",
            name=None,
            student=None,
            face_index=None,
        ),
        make_result(clip_key=clip.format(4), frame_index=2),
    ]
    send(fifo_queue, bodies)
    expected_file = tmp_path / "expected.json"
    expected_file.write_text(
        json.dumps(
            {
                clip.format(1): "mr_bean",
                "2026-11-26T23:59:52.000Z.mp4": "vin_diesel",
                "frames/x/0003.png": None,
            }
        )
    )

    consumer = ResultsConsumer(fifo_queue, 2, config=ConsumerConfig(wait_time_seconds=1, max_results=4))
    consumer.run()
    summary = consumer.summary(load_expected(expected_file))

    assert summary.by_status == {"recognized": 3, "no_face": 1}
    assert (summary.judged, summary.correct) == (3, 2)
    assert summary.accuracy == pytest.approx(2 / 3)
    assert summary.upload_latency.count == summary.capture_latency.count == 4
    assert summary.capture_latency.p50 > summary.upload_latency.p50  # type: ignore[operator]
    assert consumer.summary().accuracy is None


def test_idle_timeout_stops_an_empty_queue(fifo_queue: str) -> None:
    started = time.monotonic()
    summary = ResultsConsumer(fifo_queue, 4, config=ConsumerConfig(wait_time_seconds=1, idle_timeout=0.3)).run()
    assert summary.results == 0
    assert time.monotonic() - started >= 0.3


def test_expected_file_must_map_keys_to_names(tmp_path: Path) -> None:
    bad = tmp_path / "expected.json"
    bad.write_text('{"videos/pi-1/a.mp4": 3}')
    with pytest.raises(ConfigError, match="name or null"):
        load_expected(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_expected(tmp_path / "missing.json")
