"""The recording loop: clip after clip into the spool, named by UTC capture time, until stopped."""

import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from contract import ClipKey, clip_key, format_stamp, next_capture_time
from device.camera import Camera, ClipInfo
from device.config import RecordConfig
from device.uploader import Uploader

logger = logging.getLogger(__name__)

RECORDING_NAME = ".recording.mp4"


class Recorder:
    """Records clips into the uploader's spool and wakes the uploader; stops between clips."""

    def __init__(
        self,
        camera: Camera,
        uploader: Uploader,
        config: RecordConfig | None = None,
        stop: threading.Event | None = None,
        on_clip: Callable[[ClipInfo, str], None] | None = None,
    ) -> None:
        self._camera = camera
        self._uploader = uploader
        self._config = config or RecordConfig()
        self.stop_event = stop or threading.Event()
        self._on_clip = on_clip
        self._last: datetime | None = None

    def run(self) -> int:
        """Start the uploader, record until stopped or `clips` reached, drain the uploader; return clips."""
        self._uploader.start()
        recorded = 0
        try:
            while not self.stop_event.is_set() and recorded != self._config.clips:
                self.record_one()
                recorded += 1
        finally:
            self._uploader.stop()
        return recorded

    def stop(self) -> None:
        """Ask the loop to stop after the clip being recorded."""
        self.stop_event.set()

    def record_one(self) -> ClipInfo:
        """Record one clip to a hidden file, then rename it to `<capture stamp>.mp4` in the spool."""
        spool = self._uploader.spool_dir
        spool.mkdir(parents=True, exist_ok=True)
        temp = spool / RECORDING_NAME
        info = self._camera.record_clip(temp, self._config.clip_seconds)
        captured_at = self._last = next_capture_time(info.captured_at, self._last)
        stamp = format_stamp(captured_at)
        final = spool / f"{stamp}.mp4"
        os.replace(temp, final)
        info = replace(info, path=final, captured_at=captured_at)
        self._uploader.notify()
        logger.debug("recorded %s: %d frames at %.2f fps", final.name, info.frames, info.fps)
        if self._on_clip:
            self._on_clip(info, clip_key(self._uploader.device_id, stamp))
        return info



class ExpectedLabels:
    """Writes the `--expected` file for `results` from FileCamera clips and source-video labels.

    `labels` maps a source video's file name to the person it shows (fixtures/labels.json). A clip
    from one source gets one entry keyed by clip key; a clip spanning two sources gets one entry per
    frame keyed by frame key. The JSON object is rewritten atomically after every clip.
    """

    def __init__(self, labels: Mapping[str, str | None], path: Path) -> None:
        self._labels = labels
        self._path = Path(path)
        self._expected: dict[str, str | None] = {}
        self._lock = threading.Lock()

    def add(self, info: ClipInfo, key: str) -> None:
        """Record the expected person(s) of one clip and rewrite the file."""
        labelled = [(i, s) for i, s in enumerate(info.sources) if s in self._labels]
        with self._lock:
            if len({s for _, s in labelled}) == 1 and len(labelled) == len(info.sources):
                self._expected[key] = self._labels[labelled[0][1]]
            else:
                clip = ClipKey.parse(key)
                for index, source in labelled:
                    self._expected[clip.frame_key(index)] = self._labels[source]
            self._write()

    def _write(self) -> None:
        """Replace the file atomically so a concurrent reader never sees half of it."""
        temp = self._path.with_name(self._path.name + ".tmp")
        temp.write_text(json.dumps(self._expected, indent=1, sort_keys=True))
        os.replace(temp, self._path)
