"""Paced uploads: an opening burst PUT together, then one every 1 / rate s, on a thread pool so a slow PUT
delays no other."""

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from contract import check_device_id, clip_key, format_stamp, put_clip, utc_now
from grader.workload import WorkItem

logger = logging.getLogger(__name__)
_STAMP_STEP = 0.001  # the key's stamp resolution


@dataclass(frozen=True)
class Upload:
    """One upload: its place in the workload, clip key, when the PUT started and ended (epoch s), or the error."""

    index: int
    item: WorkItem
    key: str
    started_at: float
    finished_at: float | None
    error: str | None = None


class Sender:
    """Uploads items to `videos/<device-id>/<capture stamp>.mp4` with the contract's metadata, paced."""

    def __init__(
        self,
        s3: Any,
        bucket: str,
        device_id: str,
        rate: float,
        threads: int = 8,
        burst: int = 1,
    ) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._device_id = check_device_id(device_id)
        self._interval = 1.0 / rate
        self._threads = threads
        self._burst = burst
        self._bodies: dict[Path, bytes] = {}
        self._lock = threading.Lock()
        self._uploads: list[Upload] = []

    def run(self, items: Sequence[WorkItem], stop: threading.Event | None = None) -> list[Upload]:
        """Send every item on schedule (or until stop is set); return the uploads in schedule order."""
        stop = stop or threading.Event()
        start, first_capture = time.monotonic(), utc_now()
        futures = []
        with ThreadPoolExecutor(self._threads, thread_name_prefix="upload") as pool:
            for index, item in enumerate(items):
                if stop.wait(max(0.0, start + self.offset(index) - time.monotonic())):
                    break
                capture = self.offset(index) + index * _STAMP_STEP  # uploads of one burst get distinct keys
                stamp = format_stamp(first_capture + timedelta(seconds=capture))
                futures.append(pool.submit(self._upload, index, item, clip_key(self._device_id, stamp), stamp))
        for future in futures:
            future.result()
        with self._lock:
            return sorted(self._uploads, key=lambda u: u.index)

    def offset(self, index: int) -> float:
        """When item `index` is PUT, in seconds after the start: the first `burst` at 0, then one per interval."""
        return max(0, index - self._burst + 1) * self._interval

    def _upload(self, index: int, item: WorkItem, key: str, stamp: str) -> None:
        """PUT one item with its metadata and record the outcome."""
        body = self._body(item.path)
        started = time.time()
        try:
            self._put(item, stamp, body, started)
            upload = Upload(index, item, key, started, time.time())
        except (BotoCoreError, ClientError) as exc:
            logger.warning("upload of %s (%s) failed: %s", key, item.name, exc)
            upload = Upload(index, item, key, started, None, str(exc))
        with self._lock:
            self._uploads.append(upload)

    def _put(self, item: WorkItem, stamp: str, body: bytes, started: float) -> None:
        """PUT the clip under its contract key with its metadata (docs/contracts.md)."""
        put_clip(self._s3, self._bucket, self._device_id, stamp, body, _stamp(started))

    def sent_keys(self) -> set[str]:
        """Clip keys uploaded successfully so far."""
        with self._lock:
            return {u.key for u in self._uploads if u.error is None}

    def _body(self, path: Path) -> bytes:
        """The file's bytes, read once per path."""
        with self._lock:
            if path not in self._bodies:
                self._bodies[path] = path.read_bytes()
            return self._bodies[path]


def _stamp(epoch: float) -> str:
    """An epoch time as the contract's ISO-8601 UTC ms stamp."""
    return format_stamp(datetime.fromtimestamp(epoch, UTC))
