"""A failed upload keeps the clip in the spool; a later retry uploads everything in order."""

import socket
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from device.config import ClientConfig, UploadConfig, make_client
from device.errors import UploadError
from device.uploader import UploadedClip, Uploader

STAMPS = ["2026-11-26T23:59:59.100Z", "2026-11-26T23:59:59.600Z", "2026-11-27T00:00:00.100Z"]


def spool_clips(uploader: Uploader) -> None:
    """Three fake clips in the spool, written newest first."""
    uploader.spool_dir.mkdir(parents=True, exist_ok=True)
    for stamp in reversed(STAMPS):
        (uploader.spool_dir / f"{stamp}.mp4").write_bytes(stamp.encode())


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_cloud_keeps_clips_then_uploads_them_in_order(
    aws: str, bucket: str, s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port()}")
    offline = Uploader(make_client("s3", ClientConfig(max_attempts=1, connect_timeout=0.5)), bucket, "pi-1", tmp_path)
    spool_clips(offline)
    with pytest.raises(UploadError, match=f"videos/pi-1/{STAMPS[0]}.mp4"):
        offline.upload_pending()
    assert [p.stem for p in offline.pending()] == STAMPS

    monkeypatch.setenv("AWS_ENDPOINT_URL", aws)
    uploaded: list[UploadedClip] = []
    online = Uploader(make_client("s3"), bucket, "pi-1", tmp_path, on_uploaded=uploaded.append)
    assert online.upload_pending() == 3

    assert [c.key for c in uploaded] == [f"videos/pi-1/{s}.mp4" for s in STAMPS]
    assert online.pending() == []
    head = s3.head_object(Bucket=bucket, Key=uploaded[0].key)
    assert head["Metadata"]["device-id"] == "pi-1"
    assert head["Metadata"]["captured-at"] == STAMPS[0]
    assert head["Metadata"]["uploaded-at"] == uploaded[0].uploaded_at
    assert s3.get_object(Bucket=bucket, Key=uploaded[2].key)["Body"].read() == STAMPS[2].encode()


def test_uploader_thread_retries_with_backoff_until_the_bucket_exists(
    aws: str, s3: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bucket = "created-later-" + tmp_path.name.lower().replace("_", "-")[-20:]
    uploaded: list[str] = []
    done = threading.Event()

    def on_uploaded(clip: UploadedClip) -> None:
        uploaded.append(clip.key)
        if len(uploaded) == len(STAMPS):
            done.set()

    config = UploadConfig(backoff_initial=0.05, backoff_max=0.2, poll_interval=0.05)
    uploader = Uploader(make_client("s3", ClientConfig(max_attempts=1)), bucket, "pi-1", tmp_path, config, on_uploaded)
    spool_clips(uploader)
    uploader.start()
    time.sleep(0.3)
    assert uploaded == [] and len(uploader.pending()) == 3
    boto3.client("s3").create_bucket(Bucket=bucket)

    assert done.wait(5)
    assert uploader.stop(timeout=2) == 0
    assert uploaded == [f"videos/pi-1/{s}.mp4" for s in STAMPS]
    assert "NoSuchBucket" in caplog.text and "retry in" in caplog.text
