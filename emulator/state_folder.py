"""The state folder's place and what the CLI reads of it without moto (`status`, `reset`): the summary of the last
snapshot, the disk it takes, deleting it. emulator/state.py writes it (and loads moto, ~1.4 CPU-s per command)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

STATE_FOLDER = "state"
SUMMARY = "summary.json"


def state_root(state_dir: Path) -> Path:
    return state_dir / STATE_FOLDER


def read_summary(root: Path) -> dict[str, Any] | None:
    """The last snapshot's summary, or None when there is none."""
    try:
        return dict(json.loads((root / SUMMARY).read_text()))
    except (OSError, json.JSONDecodeError):
        return None


def disk_use(root: Path) -> int:
    """Bytes the state folder takes (file sizes)."""
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def reset(root: Path) -> None:
    """Deletes the state folder: the next start is empty."""
    if root.exists():
        shutil.rmtree(root)
