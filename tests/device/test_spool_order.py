"""The spool is read oldest capture first and ignores anything that is not a finished clip."""

from pathlib import Path
from typing import Any

from device.uploader import Uploader

STAMPS = ["2026-11-26T23:59:59.999Z", "2026-11-27T00:00:00.000Z", "2026-01-02T03:04:05.006Z"]


def test_pending_clips_sort_by_capture_time(tmp_path: Path) -> None:
    uploader = Uploader(None, "unused", "pi-1", tmp_path)
    uploader.spool_dir.mkdir(parents=True)
    for stamp in STAMPS:
        (uploader.spool_dir / f"{stamp}.mp4").write_bytes(b"clip")
    for other in (".recording.mp4", "notes.txt", "2026-11-27T00:00:00.000Z.mp4.tmp"):
        (uploader.spool_dir / other).write_bytes(b"x")

    assert [p.stem for p in uploader.pending()] == sorted(STAMPS)
    assert uploader.spool_dir == tmp_path / "pi-1"


def test_missing_spool_is_empty(tmp_path: Path) -> None:
    none: Any = None
    assert Uploader(none, "unused", "pi-1", tmp_path / "absent").pending() == []
