"""`python -m device record` and `results` end to end against moto, in-process."""

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from device.__main__ import main

REPO = Path(__file__).resolve().parents[2]
VIDEO = REPO / "fixtures" / "videos" / "test_4.mp4"


def test_record_then_results_with_accuracy(
    bucket: str,
    s3: Any,
    fifo_queue: str,
    send: Callable[..., None],
    make_result: Callable[..., dict[str, Any]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = tmp_path / "expected.json"
    code = main(
        [
            "record",
            "--camera",
            f"file:{VIDEO}",
            "--clips",
            "2",
            "--no-realtime",
            "--max-width",
            "320",
            "--bucket",
            bucket,
            "--spool",
            str(tmp_path / "spool"),
            "--device-id",
            "pi-cli",
            "--labels",
            str(REPO / "fixtures" / "labels.json"),
            "--expected-out",
            str(expected),
        ]
    )
    out = capsys.readouterr().out
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert code == 0 and len(keys) == 2 and out.count("uploaded videos/pi-cli/") == 2
    assert json.loads(expected.read_text()) == {key: "johnny_dep" for key in keys}

    bodies = [
        make_result(
            clip_key=k,
            device_id="pi-cli",
            name="johnny_dep",
            frame_index=n,
            student={"name": "johnny_dep", "major": "film", "year": "senior"},
        )
        for n, k in enumerate(keys)
    ]
    send(fifo_queue, bodies)
    monkeypatch.setenv("RESULTS_QUEUE_URL", fifo_queue)
    code = main(["results", "--threads", "3", "--max-results", "2", "--wait-time", "1", "--expected", str(expected)])
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("johnny_dep") == 2 and "film" in out and "senior" in out
    assert "upload→result" in out and "capture→result" in out
    assert "100.0% (2/2 judged)" in out and "results summary" in out


def test_record_with_picamera2_missing_says_what_to_do(
    aws: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", None)
    code = main(["record", "--camera", "picamera2", "--bucket", "b", "--spool", str(tmp_path), "--device-id", "pi"])
    out = capsys.readouterr().out
    assert code == 2
    assert "picamera2 is not installed" in out and "file:PATH" in out


def test_results_without_a_queue_says_where_it_looked(aws: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["results", "--idle-timeout", "1"]) == 2
    out = capsys.readouterr().out
    assert "--queue-url" in out and "RESULTS_QUEUE_URL" in out
