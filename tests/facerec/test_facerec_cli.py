"""`python -m facerec`: enroll, identify, evaluate, publish, run in-process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import boto3
import cv2
import numpy as np
import pytest
from moto import mock_aws

from facerec import load_model
from facerec.cli import main


def _lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_identify_prints_one_json_line_per_face_or_a_reason(model_dir, trump, tmp_path, fixtures_dir, capsys):
    cv2.imwrite(str(tmp_path / "trump.png"), trump)
    cv2.imwrite(str(tmp_path / "wall.png"), np.full((240, 320, 3), 200, np.uint8))
    (tmp_path / "notes.png").write_text("text")
    video = fixtures_dir / "videos" / "test_7.mp4"
    files = [tmp_path / "trump.png", tmp_path / "wall.png", tmp_path / "notes.png", video]
    status = main(["identify", "--model", str(model_dir), *map(str, files), "--every", "10"])
    lines = _lines(capsys.readouterr().out)
    assert status == 1  # one file was unreadable
    assert lines[0]["name"] == "president_trump" and lines[0]["frame"] is None and len(lines[0]["box"]) == 4
    assert lines[1] == {"file": str(files[1]), "frame": None, "name": None, "reason": "no face"}
    assert lines[2]["name"] is None and "ImageError" in lines[2]["reason"]
    assert [(x["frame"], x["name"]) for x in lines[3:]] == [(0, "morgan_freeman"), (10, "morgan_freeman"),
                                                           (20, "morgan_freeman")]


def test_enroll_person_folders_reports_bad_images(frames, tmp_path, capsys):
    for name in ("president_obama", "morgan_freeman"):
        folder = tmp_path / "people" / name
        folder.mkdir(parents=True)
        for index, scale in enumerate((1.0, 0.8, 0.6)):
            cv2.imwrite(str(folder / f"{index}.jpg"), cv2.resize(frames[name], None, fx=scale, fy=scale))
    cv2.imwrite(str(tmp_path / "people" / "president_obama" / "wall.png"), np.full((200, 200, 3), 9, np.uint8))
    (tmp_path / "people" / "morgan_freeman" / "broken.png").write_text("nope")
    status = main(["enroll", str(tmp_path / "people"), "--out", str(tmp_path / "model")])
    out = capsys.readouterr().out
    assert status == 0 and "no face" in out and "not a supported image" in out and "threshold" in out
    model = load_model(tmp_path / "model")
    assert model.labels == ("morgan_freeman", "president_obama")
    assert model.info["enrolment"]["samples"] == {"morgan_freeman": 3, "president_obama": 3}


def test_enroll_from_the_course_encoding_and_evaluate_with_a_plot(fixtures_dir, trained, tmp_path, capsys):
    assert main(["enroll", str(fixtures_dir / "encoding"), "--out", str(tmp_path / "enc")]) == 0
    assert len(load_model(tmp_path / "enc").labels) == 11
    plot, summary = tmp_path / "curve.png", tmp_path / "summary.json"
    capsys.readouterr()
    assert main(["evaluate", "--model", str(trained), str(fixtures_dir / "encoding"), "--plot", str(plot),
                 "--json", str(summary)]) == 0
    assert "given strangers 100.0 % of 8" in capsys.readouterr().out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = json.loads(summary.read_text())
    assert result["given_stranger_rejection"] == 1.0
    # the 3 enrolled people's course photos are another session than the videos the model was enrolled from
    assert (result["cross_session_frames"], result["same_session_frames"]) == (3, 0)


def test_evaluate_splits_same_and_cross_session(model_dir, fixtures_dir, tmp_path):
    video = fixtures_dir / "videos" / "test_7.mp4"
    for model, kind in ((model_dir, "same_session"), (model_dir / "encoding_only", "cross_session")):
        summary = tmp_path / f"{kind}.json"
        assert main(["evaluate", "--model", str(model), f"morgan_freeman={video}", "--frames", "0.4:",
                     "--every", "5", "--json", str(summary)]) == 0
        result = json.loads(summary.read_text())
        assert result[f"{kind}_frames"] == result["known_frames"] == 3 and result[f"{kind}_accuracy"] == 1.0
        cost = result["serving_cost"]
        assert (cost["frames"], cost["faces"]) == (3, 3)
        assert all(cost[f"{stage}_ms_per_{unit}"] > 0 for stage, unit in
                   (("detect", "frame"), ("embed", "face"), ("classify", "face")))


def test_serving_cost_of_precomputed_embeddings_counts_no_detection(trained, fixtures_dir, tmp_path):
    summary = tmp_path / "summary.json"
    assert main(["evaluate", "--model", str(trained), str(fixtures_dir / "encoding"), "--json", str(summary)]) == 0
    cost = json.loads(summary.read_text())["serving_cost"]
    assert (cost["frames"], cost["detect_ms_per_frame"], cost["embed_ms_per_face"]) == (0, None, None)
    assert cost["faces"] == 11 and cost["classify_ms_per_face"] > 0


def test_publish_uses_plain_boto3(model_dir, monkeypatch, capsys):
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing-dummy")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-dummy")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket="cli-models")
        assert main(["publish", "--model", str(model_dir), "--bucket", "cli-models"]) == 0
    assert _lines(capsys.readouterr().out)[0]["version"] == load_model(model_dir).version


def test_bad_arguments_and_errors_exit_non_zero(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["enroll"])
    assert main(["identify", "--model", str(tmp_path), "x.png"]) == 1
    assert "ModelError" in capsys.readouterr().err


def test_module_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "facerec", "--help"], capture_output=True, text=True,
                            check=True, cwd=Path(__file__).resolve().parents[2])
    assert "enroll" in result.stdout and "publish" in result.stdout
