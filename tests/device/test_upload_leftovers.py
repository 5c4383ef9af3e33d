"""Clips left in the spool by an earlier run go up first, then the new recordings, in capture order."""

import json
from pathlib import Path
from typing import Any

from contract import parse_stamp
from device.camera import FileCamera
from device.config import RecordConfig, UploadConfig, make_client
from device.recorder import ExpectedLabels, Recorder
from device.uploader import UploadedClip, Uploader

VIDEOS = Path(__file__).resolve().parents[2] / "fixtures" / "videos"
LEFTOVERS = ["2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.500Z"]


def test_leftovers_first_then_new_clips(aws: str, bucket: str, s3: Any, tmp_path: Path) -> None:
    uploaded: list[UploadedClip] = []
    uploader = Uploader(make_client("s3"), bucket, "pi-7", tmp_path, UploadConfig(poll_interval=0.05), uploaded.append)
    uploader.spool_dir.mkdir(parents=True)
    for stamp in LEFTOVERS:
        (uploader.spool_dir / f"{stamp}.mp4").write_bytes(b"from the previous run")
    camera = FileCamera(VIDEOS / "test_4.mp4", realtime=False, max_width=320)
    expected = tmp_path / "expected.json"
    labels = ExpectedLabels({"test_4.mp4": "johnny_dep"}, expected)

    recorded = Recorder(camera, uploader, RecordConfig(clip_seconds=0.5, clips=3), on_clip=labels.add).run()
    camera.close()

    keys = [clip.key for clip in uploaded]
    assert recorded == 3 and len(keys) == 5
    assert keys[:2] == [f"videos/pi-7/{s}.mp4" for s in LEFTOVERS]
    assert keys == sorted(keys) and len(set(keys)) == 5
    assert list(uploader.spool_dir.iterdir()) == []
    newest = s3.head_object(Bucket=bucket, Key=keys[-1])
    assert newest["ContentType"] == "video/mp4"
    captured, sent = newest["Metadata"]["captured-at"], newest["Metadata"]["uploaded-at"]
    assert keys[-1] == f"videos/pi-7/{captured}.mp4" and parse_stamp(sent) >= parse_stamp(captured)
    assert json.loads(expected.read_text()) == {key: "johnny_dep" for key in keys[2:]}
