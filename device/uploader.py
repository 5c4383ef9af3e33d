"""Ships spooled clips to S3, oldest first, on its own thread.

A clip is deleted from the spool only after its PUT succeeded. A failed PUT leaves it (and every
later clip) in the spool and is retried with bounded exponential backoff, so a cloud restart while
recording loses nothing; clips left by a previous run go first because names sort by capture time.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from contract import clip_key, put_clip, utc_stamp
from device.config import UploadConfig
from device.errors import UploadError
from device.naming import SPOOL_NAME_RE, check_device_id

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class UploadedClip:
    """A clip that reached S3: key, size in bytes, stamps, PUT duration (ms), clips still spooled."""

    key: str
    bytes: int
    captured_at: str
    uploaded_at: str
    put_ms: float
    pending: int


class Uploader:
    """Uploads `<spool_root>/<device-id>/<capture stamp>.mp4` files to `videos/<device-id>/...`."""

    def __init__(
        self,
        s3: Any,
        bucket: str,
        device_id: str,
        spool_root: Path,
        config: UploadConfig | None = None,
        on_uploaded: Callable[[UploadedClip], None] | None = None,
    ) -> None:
        self._s3 = s3
        self._bucket = bucket
        self.device_id = check_device_id(device_id)
        self.spool_dir = Path(spool_root) / device_id
        self._config = config or UploadConfig()
        self._on_uploaded = on_uploaded
        self._wake = threading.Event()
        self._draining = threading.Event()
        self._abort = threading.Event()
        self._thread: threading.Thread | None = None

    def pending(self) -> list[Path]:
        """Spooled clips, oldest capture first (names are fixed-width UTC stamps)."""
        if not self.spool_dir.is_dir():
            return []
        return sorted(p for p in self.spool_dir.iterdir() if SPOOL_NAME_RE.fullmatch(p.name))

    def upload_pending(self) -> int:
        """Upload every spooled clip in order; return how many, or raise UploadError at the first failure."""
        uploaded = 0
        for path in self.pending():
            if self._abort.is_set():
                break
            self._upload(path)
            uploaded += 1
        return uploaded

    def start(self) -> None:
        """Start the upload thread; it begins with whatever a previous run left in the spool."""
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name="uploader", daemon=True)
        self._thread.start()

    def notify(self) -> None:
        """Tell the upload thread a new clip is in the spool."""
        self._wake.set()

    def stop(self, timeout: float | None = None) -> int:
        """Upload what is spooled (for up to `timeout` s), stop the thread; return clips left behind."""
        self._draining.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(self._config.drain_timeout if timeout is None else timeout)
            self._abort.set()
            self._thread.join()
        left = len(self.pending())
        if left:
            logger.warning("%d clip(s) stay in %s and will be uploaded on the next run", left, self.spool_dir)
        return left

    def _run(self) -> None:
        """Upload, then wait for a new clip; after a failure wait a growing, bounded delay."""
        delay = self._config.backoff_initial
        while not self._abort.is_set():
            self._wake.clear()
            try:
                self.upload_pending()
            except UploadError as exc:
                logger.warning("%s; %d clip(s) in the spool, retry in %.1f s", exc, len(self.pending()), delay)
                self._abort.wait(delay)
                delay = min(delay * 2, self._config.backoff_max)
                continue
            delay = self._config.backoff_initial
            if self._draining.is_set():
                return
            self._wake.wait(self._config.poll_interval)

    def _upload(self, path: Path) -> None:
        """PUT one clip with its metadata, then delete the local file."""
        stamp = path.stem
        body = path.read_bytes()
        uploaded_at = utc_stamp()
        started = time.perf_counter()
        try:
            key = put_clip(self._s3, self._bucket, self.device_id, stamp, body, uploaded_at)
        except (BotoCoreError, ClientError) as exc:
            key = clip_key(self.device_id, stamp)
            raise UploadError(f"upload of {key} to bucket {self._bucket} failed: {exc}") from exc
        put_ms = (time.perf_counter() - started) * 1000
        path.unlink()
        logger.debug("uploaded %s (%d bytes, %.0f ms)", key, len(body), put_ms)
        self._report(UploadedClip(key, len(body), stamp, uploaded_at, put_ms, len(self.pending())))

    def _report(self, clip: UploadedClip) -> None:
        """Call on_uploaded; a failing callback is logged and never stops the uploads."""
        if self._on_uploaded is None:
            return
        try:
            self._on_uploaded(clip)
        except Exception:
            logger.exception("on_uploaded callback failed for %s", clip.key)
