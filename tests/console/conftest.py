"""Console fixtures: the session's emulator with a few classified clips from one device of this module's own."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from dataclasses import dataclass

import pytest

from contract import put_clip, utc_stamp
from tests.conftest import FIXTURES, RunningEmulator

LABELS = json.loads((FIXTURES / "labels.json").read_text())
CLIPS = ("test_0.mp4", "test_2.mp4")  # president_trump, mr_bean: one face each


@dataclass(frozen=True)
class Classified:
    """Clips a device uploaded and the names their frames should show, once the console shows them all."""

    emulator: RunningEmulator
    device_id: str
    names: tuple[str, ...]

    @property
    def console_url(self) -> str:
        return f"{self.emulator.endpoint}/_console/"


def get(url: str, timeout: float = 30.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # a loopback URL of the test's emulator
        return response.read().decode()


@pytest.fixture(scope="module")
def classified(emulator: RunningEmulator) -> Classified:
    """Two clips through the real pipeline; waits (up to 90 s) until the console's panels show both frames.

    Made again for each module: the console sizes (and boxes) only the newest frames, and files that ran earlier on
    the worker's shared emulator add newer ones, so a session's frames may no longer be among them."""
    device_id = f"console-{uuid.uuid4().hex[:6]}"
    s3, bucket = emulator.client("s3"), emulator.outputs["VideosBucket"]
    for clip in CLIPS:
        put_clip(s3, bucket, device_id, utc_stamp(), (FIXTURES / "videos" / clip).read_bytes())
    deadline = time.monotonic() + 90
    panels = ""
    while time.monotonic() < deadline:
        panels = get(f"{emulator.endpoint}/_console/panels")
        if panels.count(f'data-key="frames/{device_id}/') == len(CLIPS):
            return Classified(emulator, device_id, tuple(LABELS[clip] for clip in CLIPS))
        time.sleep(0.2)
    raise AssertionError(f"the console never showed {len(CLIPS)} frames of {device_id}:\n{panels[-3000:]}")
