"""Which results belong to this run: clips recorded since this run's first clip, as its expected file names them.

The recorder of a run writes the expected file (`record --expected-out`; `make demo` deletes it first), keyed by
the clip keys and frame keys of the clips it recorded. Each key carries the device id and the capture stamp the
recorder gave the clip, and a recorder's stamps only go up. So a result is this run's when its clip comes from a
device the file names and was captured no earlier than that device's first clip in the file: this also takes in
clips the file leaves out (a video without a label), and leaves out clips recorded before the run (a result an
earlier run left in the queue, a clip an earlier run left in the spool). Only the device's own stamps are
compared, never another clock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from contract import Result
from contract.keys import CLIP_KEY_RE, FRAME_KEY_RE, STAMP_PATTERN

STAMP_RE = re.compile(STAMP_PATTERN)


@dataclass(frozen=True)
class ThisRun:
    """Each device's first capture stamp in the expected file (contract stamps sort by time as text)."""

    first_stamps: Mapping[str, str]

    @classmethod
    def of_expected(cls, expected: Mapping[str, str | None]) -> ThisRun | None:
        """The run an expected file describes; None if it names no clip or frame key with a capture stamp."""
        first_stamps: dict[str, str] = {}
        for key in expected:
            clip = _device_and_stamp(key)
            if clip is not None:
                device_id, stamp = clip
                first_stamps[device_id] = min(stamp, first_stamps.get(device_id, stamp))
        return cls(first_stamps) if first_stamps else None

    def includes(self, result: Result) -> bool:
        """True if the result's clip was recorded by a device of this run, at or after its first clip."""
        clip = _device_and_stamp(result.clip_key)
        if clip is None or clip[0] not in self.first_stamps:
            return False
        device_id, stamp = clip
        return stamp >= self.first_stamps[device_id]


def _device_and_stamp(key: str) -> tuple[str, str] | None:
    """(device id, capture stamp) of a clip or frame key named by the recorder; None for any other key."""
    match = CLIP_KEY_RE.match(key) or FRAME_KEY_RE.match(key)
    if match is None or not STAMP_RE.fullmatch(match["stamp"]):
        return None
    return match["device"], match["stamp"]
